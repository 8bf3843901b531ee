/**
 * Overload handling, pure (ADR 0027). A transcoder that falls behind real time is "slow": its
 * segments come late but come, and restarting it would only lose the window. It is shed one step
 * at a time — the ladder minus its most expensive rung (never below one rung), then faster x264
 * presets for what is left — and recovers one step when the host has CPU for the step back, with
 * hysteresis. A transcoder with no output at all for the stall window is "stuck" and restarted.
 */
import { type ProfileSpec, type Rendition, renditionCost } from "@dionysia/shared";

export type RunHealth = "ok" | "slow" | "stuck";

export interface HealthInput {
  now: number;
  startedAt: number;
  /** When the newest segment appeared (any playlist). */
  lastSegmentAt?: number;
  /** When the encoder's output time last advanced (ffmpeg -progress). */
  lastProgressAt?: number;
  /** Encoder speed over the recent window (output media s per wall s); undefined: not known yet. */
  speed?: number;
  segmentDurationSec: number;
  stallFactor: number;
  startupGraceMs: number;
  /** Below this windowed speed the run is slow. */
  slowBelow: number;
}

/**
 * "stuck": neither a segment nor encoder progress for the stall window (plus the start-up grace
 * before the first segment), or progress without any segment for 4 windows (a wedged muxer).
 * "slow": the windowed speed is under `slowBelow`, or segments are overdue while frames still
 * come. Otherwise "ok".
 */
export function classifyRun(i: HealthInput): RunHealth {
  const window = i.stallFactor * i.segmentDurationSec * 1000;
  const limit = window + (i.lastSegmentAt === undefined ? i.startupGraceMs : 0);
  const sinceSegment = i.now - (i.lastSegmentAt ?? i.startedAt);
  const sinceProgress = i.now - (i.lastProgressAt ?? i.startedAt);
  if (sinceSegment > limit) {
    if (sinceProgress > limit || sinceSegment > 4 * limit) return "stuck";
    return "slow";
  }
  if (i.speed !== undefined && i.speed < i.slowBelow) return "slow";
  return "ok";
}

/** A (wall ms, media s) sample of the encoder's output time. */
export interface ProgressSample {
  at: number;
  outSec: number;
}

/**
 * Output media seconds per wall second over the newest `windowMs` of samples; undefined until the
 * samples span 80 % of the window. ffmpeg's own `speed` is an average since the process started,
 * so it hides a slowdown that begins late.
 */
export function windowedSpeed(samples: ProgressSample[], now: number, windowMs: number): number | undefined {
  const last = samples[samples.length - 1];
  if (!last) return undefined;
  let first: ProgressSample | undefined;
  for (const s of samples) {
    if (s.at >= now - windowMs) {
      first = s;
      break;
    }
  }
  if (!first || last.at - first.at < windowMs * 0.8) return undefined;
  return (last.outSec - first.outSec) / ((last.at - first.at) / 1000);
}

/** Keeps the samples a window needs (and one before it). */
export function trimSamples(samples: ProgressSample[], now: number, windowMs: number): void {
  while (samples.length > 2 && samples[1]!.at < now - windowMs) samples.shift();
}

const PRESETS: NonNullable<Rendition["preset"]>[] = [
  "medium",
  "fast",
  "faster",
  "veryfast",
  "superfast",
  "ultrafast",
];

function fasterPreset(p: Rendition["preset"], steps: number): Rendition["preset"] {
  const i = PRESETS.indexOf(p ?? "veryfast");
  return PRESETS[Math.min(PRESETS.length - 1, i + steps)];
}

/** How many shed steps a profile has: rungs that can go, then preset steps of the one left. */
export function maxShedLevel(p: ProfileSpec): number {
  if (p.renditions.length === 0) return 0;
  const drops = p.renditions.length - 1;
  const left = dropRungs(p.renditions, drops)[0]!;
  if (left.codec === "copy") return drops;
  return drops + PRESETS.length - 1 - PRESETS.indexOf(left.preset ?? "veryfast");
}

/** The renditions minus the `n` most expensive ones, in their original order; at least one stays. */
function dropRungs(renditions: Rendition[], n: number): Rendition[] {
  const k = Math.min(n, renditions.length - 1);
  if (k <= 0) return renditions;
  const byCost = renditions
    .map((r, i) => ({ r, i, c: renditionCost(r) }))
    .sort((a, b) => b.c - a.c || a.i - b.i);
  const gone = new Set(byCost.slice(0, k).map((x) => x.i));
  return renditions.filter((_, i) => !gone.has(i));
}

/** The profile served at shed level `level` (0 = as desired). */
export function shedProfile(p: ProfileSpec, level: number): ProfileSpec {
  if (level <= 0) return p;
  const drops = Math.min(level, p.renditions.length - 1);
  const kept = dropRungs(p.renditions, drops);
  const presetSteps = level - drops;
  const renditions =
    presetSteps > 0
      ? kept.map((r) => (r.codec === "copy" ? r : { ...r, preset: fasterPreset(r.preset, presetSteps) }))
      : kept;
  return { ...p, renditions };
}

export interface RecoveryInput {
  now: number;
  /** When the current level was entered. */
  shedAt: number;
  /** Minimum time at a level before trying the step back (doubles after a failed recovery). */
  holdMs: number;
  /** Cores this transcoder used over the last window, and cores idle on the host meanwhile. */
  ownCores: number;
  idleCores: number;
  /** Cost of the current and of the one-step-back profile (load units). */
  costNow: number;
  costBack: number;
  /** Fraction of the CPU the step back may fill (margin). */
  margin: number;
}

/**
 * True when the step back fits: the CPU it would need (own usage scaled by the cost ratio; a
 * preset step counts as 1.5x) fits in own + idle cores with margin, after the hold time.
 */
export function canRecover(i: RecoveryInput): boolean {
  if (i.now - i.shedAt < i.holdMs) return false;
  if (!(i.ownCores > 0)) return false;
  const ratio = i.costBack > i.costNow ? i.costBack / i.costNow : 1.5;
  return i.ownCores * ratio <= (i.ownCores + Math.max(0, i.idleCores)) * i.margin;
}
