/**
 * One failure limiter for every door (control's API keys, the origin's RTMP/SRT stream keys, the
 * embedded MQTT broker's CONNECTs): a token bucket per source address. Each failure takes a
 * token; the bucket refills at `limit` tokens per `windowMs`; an address with no token left is
 * refused until one comes back (`retryAfterMs`). Memory is bounded: at most `maxKeys` addresses
 * are tracked, the least recently failing one is forgotten first (forgetting only ever lets an
 * address try again sooner, it never locks anyone out). Pure apart from the clock passed in.
 */

export interface FailureLimiterOptions {
  /** Failures allowed per window (the bucket's size). 0 disables the limiter. */
  limit: number;
  /** The window in which `limit` tokens refill. */
  windowMs: number;
  /** Most addresses tracked at once. */
  maxKeys?: number;
}

export type LimitVerdict = { blocked: false } | { blocked: true; retryAfterMs: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class FailureLimiter {
  readonly limit: number;
  readonly windowMs: number;
  readonly maxKeys: number;
  private readonly buckets = new Map<string, Bucket>();

  constructor(o: FailureLimiterOptions) {
    if (!Number.isFinite(o.limit) || o.limit < 0) throw new Error("limit must be >= 0");
    if (!Number.isFinite(o.windowMs) || o.windowMs <= 0) throw new Error("windowMs must be > 0");
    this.limit = Math.floor(o.limit);
    this.windowMs = o.windowMs;
    this.maxKeys = Math.max(1, Math.floor(o.maxKeys ?? 10_000));
  }

  get enabled(): boolean {
    return this.limit > 0;
  }

  /** How many addresses are tracked now (bounded by maxKeys). */
  get size(): number {
    return this.buckets.size;
  }

  private refill(b: Bucket, now: number): void {
    const elapsed = Math.max(0, now - b.at);
    b.tokens = Math.min(this.limit, b.tokens + (elapsed * this.limit) / this.windowMs);
    b.at = now;
  }

  /** Whether `key` is refused right now (no token left). Does not count anything. */
  check(key: string, now: number): LimitVerdict {
    if (!this.enabled) return { blocked: false };
    const b = this.buckets.get(key);
    if (!b) return { blocked: false };
    this.refill(b, now);
    if (b.tokens >= 1) {
      if (b.tokens >= this.limit) this.buckets.delete(key); // full again: nothing to remember
      return { blocked: false };
    }
    return { blocked: true, retryAfterMs: Math.ceil(((1 - b.tokens) * this.windowMs) / this.limit) };
  }

  /** Records one failure from `key`; returns the verdict for its next attempt. */
  fail(key: string, now: number): LimitVerdict {
    if (!this.enabled) return { blocked: false };
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key); // re-inserted below: Map order is least recently failing first
      this.refill(b, now);
    } else {
      b = { tokens: this.limit, at: now };
      while (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next().value as string;
        this.buckets.delete(oldest);
      }
    }
    b.tokens = Math.max(0, b.tokens - 1);
    this.buckets.set(key, b);
    return this.check(key, now);
  }
}

/** Normalizes a source address for keying: IPv4-mapped IPv6 is the IPv4 address; unknown is "unknown". */
export function addressKey(addr: string | null | undefined): string {
  if (!addr) return "unknown";
  const a = addr.trim().toLowerCase();
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

export type LimitedOutcome =
  | { outcome: "ok" }
  | { outcome: "refused" }
  | { outcome: "limited"; retryAfterMs: number };

/**
 * One credential check behind the limiter, for doors without their own glue (the MQTT broker's
 * CONNECT: `client.conn.remoteAddress` as `addr`, the password check as `attempt`). A limited
 * address is refused without running `attempt`; a failed attempt counts.
 */
export async function attemptLimited(
  limiter: FailureLimiter,
  addr: string | null | undefined,
  attempt: () => boolean | Promise<boolean>,
  now: () => number = Date.now,
): Promise<LimitedOutcome> {
  const key = addressKey(addr);
  const v = limiter.check(key, now());
  if (v.blocked) {
    limiter.fail(key, now());
    return { outcome: "limited", retryAfterMs: v.retryAfterMs };
  }
  if (await attempt()) return { outcome: "ok" };
  limiter.fail(key, now());
  return { outcome: "refused" };
}
