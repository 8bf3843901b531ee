/**
 * Playback verification keys (ADR 0060): public JWKs only, from control's
 * `GET /v1/playback-keys` at start and the retained MQTT topic `dionysia/v1/keys` afterwards.
 * The newest list (by control's `ts`) wins, so a late bootstrap cannot undo a revocation.
 */
import { decodeMessage } from "../../../shared/src/codec.ts";
import type { PlaybackVerifier } from "../../../shared/src/playback/token.ts";
import { PlaybackKeys } from "../../../shared/src/schemas/mqtt.ts";
import type { Log } from "../obs/log.ts";

export interface KeySyncOptions {
  controlUrl: string;
  routerKey: string;
  fetch?: typeof fetch;
  minDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
}

export class KeySync {
  private lastTs = -1;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private wake: (() => void) | undefined;
  /** Resolves after the first list is applied (from either source), or on stop. */
  readonly ready: Promise<void>;
  private markReady: () => void = () => undefined;

  constructor(
    private readonly verifier: PlaybackVerifier,
    private readonly o: KeySyncOptions,
    private readonly log: Log,
  ) {
    this.ready = new Promise((resolve) => {
      this.markReady = resolve;
    });
  }

  /** Lists are applied one at a time, in arrival order (key import is async). */
  private chain: Promise<unknown> = Promise.resolve();

  /** Applies a list if it is newer than the last one applied. */
  apply(list: PlaybackKeys, source: "bootstrap" | "mqtt"): Promise<boolean> {
    const next = this.chain.then(() => this.applyNow(list, source));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async applyNow(list: PlaybackKeys, source: "bootstrap" | "mqtt"): Promise<boolean> {
    if (list.ts < this.lastTs) return false;
    this.lastTs = list.ts;
    const { rejected } = await this.verifier.setKeys(list.keys);
    for (const r of rejected)
      this.log.warn({ kid: r.kid, err: r.error }, "playback key did not import; skipped");
    this.log.info({ keys: this.verifier.keyIds.length, source }, "playback keys updated");
    this.markReady();
    return true;
  }

  /** A message on `dionysia/v1/keys`; invalid ones are logged and dropped (the current set stays). */
  async onMessage(payload: Uint8Array): Promise<void> {
    const d = decodeMessage(PlaybackKeys, payload);
    if (!d.ok) {
      this.log.warn({ err: d.error }, "invalid playback keys message dropped");
      return;
    }
    await this.apply(d.value, "mqtt");
  }

  /** One HTTP fetch. Throws with a reason (never containing the credential). */
  async fetchOnce(): Promise<void> {
    const f = this.o.fetch ?? fetch;
    const res = await f(`${this.o.controlUrl.replace(/\/+$/, "")}/v1/playback-keys`, {
      headers: { authorization: `Bearer ${this.o.routerKey}`, accept: "application/json" },
      signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`GET /v1/playback-keys answered ${res.status}`);
    }
    const d = decodeMessage(PlaybackKeys, await res.text());
    if (!d.ok) throw new Error(`GET /v1/playback-keys: ${d.error}`);
    await this.apply(d.value, "bootstrap");
  }

  /** Fetches until one succeeds (capped exponential back-off). */
  async start(): Promise<void> {
    let delay = this.o.minDelayMs ?? 500;
    const max = this.o.maxDelayMs ?? 30000;
    while (!this.stopped) {
      try {
        await this.fetchOnce();
        return;
      } catch (err) {
        this.log.warn({ err: (err as Error).message, retryInMs: delay }, "playback keys fetch failed");
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, delay);
      });
      delay = Math.min(delay * 2, max);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    this.markReady();
  }
}
