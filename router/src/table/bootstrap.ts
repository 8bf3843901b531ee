/**
 * Bootstrap from control: `GET {controlUrl}/v1/routes` with the router credential → `{routes}`.
 * Retries with capped exponential back-off until it succeeds; failures keep the current table.
 */
import { Type as T } from "@sinclair/typebox";
import { validate } from "../../../shared/src/codec.ts";
import { Route } from "../../../shared/src/schemas/mqtt.ts";
import type { Log } from "../obs/log.ts";
import type { RouteTable } from "./store.ts";

export const RoutesResponse = T.Object({ routes: T.Array(Route) });

export interface BootstrapOptions {
  controlUrl: string;
  routerKey: string;
  fetch?: typeof fetch;
  /** First retry delay; doubles up to `maxDelayMs`. */
  minDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
  onResult?: (ok: boolean) => void;
}

/** One attempt. Throws with a reason (never containing the key). */
export async function fetchRoutes(o: BootstrapOptions): Promise<readonly Route[]> {
  const f = o.fetch ?? fetch;
  const url = `${o.controlUrl.replace(/\/+$/, "")}/v1/routes`;
  const res = await f(url, {
    headers: { authorization: `Bearer ${o.routerKey}`, accept: "application/json" },
    signal: AbortSignal.timeout(o.timeoutMs ?? 5000),
  });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`GET /v1/routes answered ${res.status}`);
  }
  const body: unknown = await res.json();
  // Validate item by item: one bad route from control must not cost every good one.
  if (typeof body !== "object" || body === null || !Array.isArray((body as { routes?: unknown }).routes))
    throw new Error("GET /v1/routes: body is not {routes: [...]}");
  const out: Route[] = [];
  for (const r of (body as { routes: unknown[] }).routes) {
    if (validate(Route, r) === undefined) out.push(r as Route);
  }
  return out;
}

/**
 * Keeps trying until one snapshot is applied, then resolves. `resync()` runs it again (after an MQTT
 * reconnect, deletes may have been missed). `stop()` cancels pending retries.
 */
export class Bootstrapper {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  attempts = 0;

  constructor(
    private readonly table: RouteTable,
    private readonly o: BootstrapOptions,
    private readonly log: Log,
  ) {}

  /** Resolves after the first successful snapshot (or on stop). */
  start(): Promise<void> {
    this.running ??= this.loop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  resync(): Promise<void> {
    return this.start();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
  }

  private wake: (() => void) | undefined;

  private async loop(): Promise<void> {
    let delay = this.o.minDelayMs ?? 500;
    const max = this.o.maxDelayMs ?? 30000;
    while (!this.stopped) {
      this.attempts++;
      const requestedAt = Date.now();
      try {
        const routes = await fetchRoutes(this.o);
        if (this.stopped) return;
        this.table.applySnapshot(routes, requestedAt);
        this.o.onResult?.(true);
        this.log.info({ routes: this.table.size, attempt: this.attempts }, "route table bootstrapped");
        return;
      } catch (err) {
        this.o.onResult?.(false);
        this.log.warn(
          { err: (err as Error).message, retryInMs: delay, routes: this.table.size },
          "bootstrap from control failed; keeping the current table",
        );
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, delay);
      });
      delay = Math.min(delay * 2, max);
    }
  }
}
