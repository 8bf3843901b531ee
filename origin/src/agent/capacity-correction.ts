/**
 * Live correction of the calibrated capacity (ADR 0044). The calibration encodes a synthetic
 * pattern; real streams may cost more CPU per output megapixel (camera noise, HEVC, odd sizes) or
 * less. Each running transcoder's CPU seconds per second of media it produced is compared with
 * what its cost predicts (cost × the calibration's CPU-s per Mpx); the ratio feeds an
 * exponentially weighted factor, bounded, and the announced capacity is calibrated / factor.
 * Pure apart from the clock-free inputs: callers pass cumulative counters, this keeps deltas.
 */

/** One running transcoder's cumulative counters (from the supervisor). */
export interface StreamUsage {
  id: string;
  /** Changes when the process restarts: counters start again. */
  runId: string;
  /** Load units of what the process serves now. */
  cost: number;
  /** CPU seconds (user + system) of the process so far. */
  cpuSeconds: number | undefined;
  /** Seconds of media the process has output so far (ffmpeg progress out_time). */
  mediaSeconds: number | undefined;
}

export interface CapacityCorrectionOptions {
  /** Calibrated capacity (load units) and what one unit-second costs in CPU there. */
  calibrated: number;
  cpuSecondsPerMpx: number;
  /** Seconds of media a stream must add before its sample counts (CPU ticks are 10 ms). */
  minMediaSeconds?: number;
  /** Time constant of the average, in seconds of media observed. */
  tauSeconds?: number;
  /** Bounds of the factor: a few odd streams never halve or double capacity beyond these. */
  minFactor?: number;
  maxFactor?: number;
  /** Streams cheaper than this are mostly demux/mux constants, not encoding: ignored. */
  minCost?: number;
}

interface Pending {
  runId: string;
  cpu: number;
  media: number;
}

export class CapacityCorrection {
  private f = 1;
  private readonly last = new Map<string, Pending>();
  private readonly o: Required<CapacityCorrectionOptions>;
  /** Samples folded in so far (for logs and tests). */
  samples = 0;

  constructor(o: CapacityCorrectionOptions) {
    this.o = { minMediaSeconds: 10, tauSeconds: 120, minFactor: 0.5, maxFactor: 2, minCost: 1, ...o };
  }

  /** Observed / predicted CPU per media second, averaged: > 1 means streams cost more than rated. */
  get factor(): number {
    return this.f;
  }

  /** Corrected capacity in load units. */
  get capacity(): number {
    return Math.round((this.o.calibrated / this.f) * 10) / 10;
  }

  /** Folds in the deltas since the last call for every stream with enough new media. */
  observe(usage: StreamUsage[]): void {
    const seen = new Set<string>();
    for (const u of usage) {
      seen.add(u.id);
      if (u.cpuSeconds === undefined || u.mediaSeconds === undefined) continue;
      const prev = this.last.get(u.id);
      if (!prev || prev.runId !== u.runId || u.mediaSeconds < prev.media || u.cpuSeconds < prev.cpu) {
        this.last.set(u.id, { runId: u.runId, cpu: u.cpuSeconds, media: u.mediaSeconds });
        continue;
      }
      const dMedia = u.mediaSeconds - prev.media;
      if (dMedia < this.o.minMediaSeconds) continue;
      this.last.set(u.id, { runId: u.runId, cpu: u.cpuSeconds, media: u.mediaSeconds });
      if (u.cost < this.o.minCost) continue;
      const predicted = u.cost * dMedia * this.o.cpuSecondsPerMpx;
      const ratio = (u.cpuSeconds - prev.cpu) / predicted;
      if (!Number.isFinite(ratio) || ratio <= 0) continue;
      const w = 1 - Math.exp(-dMedia / this.o.tauSeconds);
      const next = this.f + w * (ratio - this.f);
      this.f = Math.min(this.o.maxFactor, Math.max(this.o.minFactor, next));
      this.samples++;
    }
    for (const id of this.last.keys()) if (!seen.has(id)) this.last.delete(id);
  }
}

/** True when `next` differs from the announced capacity by more than `threshold` (a fraction). */
export function capacityMoved(announced: number, next: number, threshold = 0.05): boolean {
  if (announced <= 0) return next > 0;
  return Math.abs(next - announced) / announced > threshold;
}
