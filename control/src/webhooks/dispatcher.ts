/**
 * Webhook delivery (ADR 0090). Only the instance holding the `webhooks` lease delivers; it claims
 * due deliveries from the outbox with a conditional update (outbox.ts `claimDue`), at most
 * WEBHOOK_CONCURRENCY in flight, each POST bounded by WEBHOOK_TIMEOUT_MS and its answer read up to
 * 1 KiB. It runs on its own timers, apart from the scheduler, so a slow or dead receiver only
 * ever holds its own slots. Failed attempts are retried with exponential back-off and full jitter
 * until the delivery's retry window (24 h by default) is over; then it is marked failed.
 */
import { hostname } from "node:os";
import {
  type Logger,
  randomBase62,
  signWebhook,
  WEBHOOK_EVENT_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
} from "@dionysia/shared";
import type { Client } from "@libsql/client";
import { Counter, Gauge, type Registry } from "prom-client";
import type { ControlConfig } from "../config.ts";
import type { Db } from "../db/client.ts";
import { LeaseKeeper } from "../network/lease.ts";
import {
  type AttemptResult,
  backlog,
  type Claimed,
  claimDue,
  completeAttempt,
  eventBody,
  pruneEvents,
} from "./outbox.ts";
import { checkWebhookUrl } from "./url.ts";

export const WEBHOOK_LEASE = "webhooks";
const RESPONSE_READ_LIMIT = 1024;
const EXCERPT_CHARS = 256;
const PRUNE_EVERY_MS = 3_600_000;
const USER_AGENT = "Dionysia-Webhooks/1";

/** Full jitter: attempt n (1-based) waits a uniform time in [0, min(max, base·2^(n-1))]. */
export function retryDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 40));
  return Math.floor(random() * cap);
}

async function readExcerpt(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    while (n < RESPONSE_READ_LIMIT) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      n += value.byteLength;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const text = new TextDecoder().decode(Buffer.concat(chunks).subarray(0, RESPONSE_READ_LIMIT));
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  return text.replace(/[\u0000-\u001f\u007f]+/g, " ").slice(0, EXCERPT_CHARS);
}

function reasonOf(err: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `timed out after ${timeoutMs} ms`;
  const e = err as { code?: string; name?: string; message?: string };
  const msg = e.message ?? String(err);
  const code = e.code ?? e.name ?? "error";
  return (msg.startsWith(code) ? msg : `${code}: ${msg}`).slice(0, 300);
}

export interface DispatcherDeps {
  db: Db;
  client: Client;
  log: Logger;
  config: ControlConfig;
  registry: Registry;
}

export class WebhookDispatcher {
  readonly holder = `${hostname()}-${process.pid}-${randomBase62(6)}`;
  readonly lease: LeaseKeeper;
  private readonly log: Logger;
  private readonly inflight = new Set<Promise<void>>();
  private readonly outcomes: Counter<"outcome">;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = true;
  private lastPrune = 0;

  constructor(private readonly d: DispatcherDeps) {
    this.log = d.log.child({ component: "webhooks" });
    this.lease = new LeaseKeeper({
      db: d.client,
      holder: this.holder,
      name: WEBHOOK_LEASE,
      ttlMs: d.config.leaseTtlMs,
      logger: d.log,
    });
    this.outcomes = new Counter({
      name: "dionysia_control_webhook_deliveries_total",
      help: "Webhook delivery attempts by outcome: delivered, retry (failed, will retry), failed (given up)",
      labelNames: ["outcome"],
      registers: [d.registry],
    });
    const db = d.db;
    new Gauge({
      name: "dionysia_control_webhook_outbox_backlog",
      help: "Webhook deliveries waiting for an attempt or in flight",
      registers: [d.registry],
      async collect() {
        this.set(await backlog(db));
      },
    });
  }

  get isLeader(): boolean {
    return this.lease.isLeader;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.lease.start();
    this.lease.on("gained", () => this.kick());
    // The first pass waits one interval: start-up is busy enough (and restarts resume from the table).
    this.timer = setTimeout(() => this.kick(), this.d.config.webhookPollMs);
  }

  /** Stops claiming, lets the attempts in flight finish (each bounded by its timeout), frees the lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    await Promise.allSettled([...this.inflight]);
    await this.lease.stop({ release: true });
  }

  /** Looks for due deliveries now (and then every WEBHOOK_POLL_MS). */
  kick(): void {
    if (this.stopped || this.ticking) return;
    clearTimeout(this.timer);
    this.ticking = this.tick()
      .catch((err) => this.log.error({ err }, "webhook dispatch pass failed"))
      .finally(() => {
        this.ticking = undefined;
        if (!this.stopped) this.timer = setTimeout(() => this.kick(), this.d.config.webhookPollMs);
      });
  }

  private async tick(): Promise<void> {
    if (!this.lease.isLeader) return;
    const c = this.d.config;
    const now = Date.now();
    if (now - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = now;
      const pruned = await pruneEvents(this.d.db, now - c.eventRetentionDays * 86_400_000);
      if (pruned > 0) this.log.info({ events: pruned }, "old events pruned");
    }
    const free = c.webhookConcurrency - this.inflight.size;
    // The claim outlives the request, so only a crashed holder's claims are taken over.
    const claimed = await claimDue(this.d.db, this.holder, free, now + c.webhookTimeoutMs + 10_000, now);
    for (const cl of claimed) {
      const p: Promise<void> = this.deliver(cl)
        .catch((err) =>
          this.log.error(
            { err, webhookId: cl.delivery.webhookId, eventId: cl.event.id, deliveryId: cl.delivery.id },
            "webhook delivery bookkeeping failed",
          ),
        )
        .finally(() => {
          this.inflight.delete(p);
          // A slot is free: more may be due.
          if (claimed.length === free) this.kick();
        });
      this.inflight.add(p);
    }
  }

  /** One attempt: POST the signed event, then record what happened. */
  private async deliver(cl: Claimed): Promise<void> {
    const c = this.d.config;
    const { delivery: d, event } = cl;
    const startedAt = Date.now();
    const body = JSON.stringify(eventBody(event));
    let statusCode: number | null = null;
    let error: string | null = null;
    let excerpt = "";
    const dest = await checkWebhookUrl(cl.url, c.webhookAllowPrivate);
    if (!dest.ok) error = `destination refused: ${dest.reason}`;
    else {
      const ac = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        ac.abort();
      }, c.webhookTimeoutMs);
      try {
        const res = await fetch(dest.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            [WEBHOOK_EVENT_ID_HEADER]: event.id,
            "dionysia-event-type": event.type,
            [WEBHOOK_SIGNATURE_HEADER]: signWebhook(cl.secret, body),
          },
          body,
          redirect: "manual",
          signal: ac.signal,
        });
        statusCode = res.status;
        excerpt = await readExcerpt(res);
        if (res.status < 200 || res.status > 299)
          error =
            res.status >= 300 && res.status < 400
              ? `HTTP ${res.status}: redirects are not followed`
              : `HTTP ${res.status}`;
      } catch (err) {
        error = reasonOf(err, timedOut, c.webhookTimeoutMs);
      } finally {
        clearTimeout(timer);
      }
    }
    const now = Date.now();
    const giveUpAt = d.retryUntil ?? event.createdAt + c.webhookRetryForMs;
    const next = now + retryDelay(d.attempts, c.webhookRetryBaseMs, c.webhookRetryMaxMs);
    const outcome: AttemptResult["outcome"] =
      error === null ? "delivered" : next > giveUpAt ? "failed" : "retry";
    const recorded = await completeAttempt(this.d.db, d, this.holder, {
      startedAt,
      durationMs: now - startedAt,
      statusCode,
      error,
      responseExcerpt: excerpt,
      outcome,
      nextAttemptAt: outcome === "retry" ? next : null,
    });
    this.outcomes.inc({ outcome });
    const ctx = {
      webhookId: d.webhookId,
      eventId: event.id,
      eventType: event.type,
      deliveryId: d.id,
      attempt: d.attempts,
      statusCode,
      durationMs: now - startedAt,
      ...(recorded ? {} : { stale: true }),
    };
    if (outcome === "delivered") this.log.info(ctx, "webhook delivered");
    else if (outcome === "retry")
      this.log.warn({ ...ctx, reason: error, retryInMs: next - now }, "webhook delivery failed; will retry");
    else this.log.error({ ...ctx, reason: error }, "webhook delivery failed; giving up");
  }
}
