/**
 * Telemetry silence detector: a node whose telemetry has been silent for `intervals` telemetry
 * periods is considered offline even if no last will arrived (half-open TCP, a frozen process,
 * a partitioned broker bridge). Pure apart from the clock passed in.
 */
export class SilenceDetector {
  private readonly last = new Map<string, number>();
  private readonly silent = new Set<string>();

  constructor(
    readonly intervalMs: number,
    readonly intervals = 3,
  ) {}

  get timeoutMs(): number {
    return this.intervalMs * this.intervals;
  }

  /** Records a sign of life; true when the node had been declared silent (it came back). */
  seen(nodeId: string, now: number): boolean {
    this.last.set(nodeId, now);
    return this.silent.delete(nodeId);
  }

  /** The node said it is offline (LWT): stop watching it until it shows up again. */
  forget(nodeId: string): void {
    this.last.delete(nodeId);
    this.silent.delete(nodeId);
  }

  /**
   * Control itself was cut off from the broker: nobody could be heard, so silence meant nothing.
   * Every watched node gets a full timeout from `now` to show up again.
   */
  rearm(now: number): void {
    for (const id of this.last.keys()) this.last.set(id, now);
  }

  /** Nodes that just crossed the silence threshold (each reported once per silence). */
  sweep(now: number): string[] {
    const out: string[] = [];
    for (const [id, t] of this.last) {
      if (now - t >= this.timeoutMs && !this.silent.has(id)) {
        this.silent.add(id);
        out.push(id);
      }
    }
    return out;
  }

  isSilent(nodeId: string): boolean {
    return this.silent.has(nodeId);
  }
}
