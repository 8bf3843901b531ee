/**
 * Telemetry silence detector: a node whose telemetry has been silent for `intervals` telemetry
 * periods is considered offline even if no last will arrived (half-open TCP, a frozen process,
 * a partitioned broker bridge). Pure apart from the clock passed in.
 *
 * Silence is measured in time control could listen (ADR 0015): a sweep that comes late means
 * control's own event loop stalled (a heavy request, GC, a starved host), and during a stall no
 * message is read, whoever sent it. That lateness is subtracted from every node's silence, so
 * the verdict rests on beats control missed while it was able to hear them, not on its own stall.
 */
export class SilenceDetector {
  private readonly last = new Map<string, number>();
  private readonly silent = new Set<string>();
  /** Total time control's loop was stalled (late sweeps), and its value when each node was last seen. */
  private stalledMs = 0;
  private readonly stalledAtSeen = new Map<string, number>();
  private lastSweep: number | undefined;

  constructor(
    readonly intervalMs: number,
    readonly intervals = 3,
  ) {}

  get timeoutMs(): number {
    return this.intervalMs * this.intervals;
  }

  /** How often the owner sweeps (ControlBus: half a telemetry period); later sweeps mean a stall. */
  get sweepEveryMs(): number {
    return Math.max(50, Math.floor(this.intervalMs / 2));
  }

  /** Control's own accumulated loop stall, as seen by the sweeps. */
  get stalledTotalMs(): number {
    return this.stalledMs;
  }

  /** Records a sign of life; true when the node had been declared silent (it came back). */
  seen(nodeId: string, now: number): boolean {
    this.last.set(nodeId, now);
    this.stalledAtSeen.set(nodeId, this.stalledMs);
    return this.silent.delete(nodeId);
  }

  /** The node said it is offline (LWT): stop watching it until it shows up again. */
  forget(nodeId: string): void {
    this.last.delete(nodeId);
    this.stalledAtSeen.delete(nodeId);
    this.silent.delete(nodeId);
  }

  /**
   * Control itself was cut off from the broker: nobody could be heard, so silence meant nothing.
   * Every watched node gets a full timeout from `now` to show up again.
   */
  rearm(now: number): void {
    for (const id of this.last.keys()) {
      this.last.set(id, now);
      // The outage is not also a stall of control's loop (no sweeps ran while disconnected).
      this.stalledAtSeen.set(id, this.stalledMs);
    }
    this.lastSweep = undefined;
  }

  /** Nodes that just crossed the silence threshold (each reported once per silence). */
  sweep(now: number): string[] {
    // A sweep later than one extra period: the loop (or the whole process) was not running.
    if (this.lastSweep !== undefined) {
      const late = now - this.lastSweep - 2 * this.sweepEveryMs;
      if (late > 0) this.stalledMs += late;
    }
    this.lastSweep = now;
    const out: string[] = [];
    for (const [id, t] of this.last) {
      const heardMs = now - t - (this.stalledMs - (this.stalledAtSeen.get(id) ?? this.stalledMs));
      if (heardMs >= this.timeoutMs && !this.silent.has(id)) {
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
