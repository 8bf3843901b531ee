/**
 * Failed MQTT logins per source address: past `limit` failures in the last `windowMs`, the
 * embedded broker refuses CONNECTs from that address without checking them, until the oldest
 * failure ages out. Other addresses are never affected. Pure apart from the clock passed in.
 */
export class AuthFailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    /** 0 turns the limiter off. */
    readonly limit: number,
    readonly windowMs = 60_000,
  ) {}

  private recent(address: string, now: number): number[] {
    const list = this.failures.get(address);
    if (!list) return [];
    while (list.length > 0 && now - (list[0] as number) >= this.windowMs) list.shift();
    if (list.length === 0) this.failures.delete(address);
    return list;
  }

  /** True when connects from this address are refused right now. */
  blocked(address: string, now: number): boolean {
    return this.limit > 0 && this.recent(address, now).length >= this.limit;
  }

  failed(address: string, now: number): void {
    if (this.limit === 0) return;
    const list = this.recent(address, now);
    list.push(now);
    this.failures.set(address, list);
    // Bounded memory under a spray of addresses: forget the oldest address first.
    if (this.failures.size > 100_000) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }
}
