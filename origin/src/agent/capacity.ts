/**
 * Capacity calibration by CPU time (ADR 0044). A short real encode of the built-in 720p ladder's
 * video (testsrc2 1280x720@30 → split → 720p/480p/360p libx264 veryfast, the same filter graph
 * and encoder flags as a live stream) measures the CPU-seconds this host spends per output
 * megapixel. Capacity = usable cores / (CPU-s per Mpx) × safety, in load units (output Mpx/s,
 * shared/src/profile/cost.ts), so it agrees with stream cost by construction. CPU time is read
 * from /proc between progress reports after a warm-up: a busy host makes the encode slower, not
 * more expensive, so the result does not depend on what else runs.
 */

import { BUILTIN_PROFILES, DEFAULT_PROFILE_ID, type Logger, type Rendition } from "@dionysia/shared";
import { processCpuSeconds, usableCores } from "../proc-cpu.ts";
import { dieWithParent } from "../process/die-with-parent.ts";
import { buildFilterGraph, videoEncodeArgs } from "../transcoder/ffmpeg/command.ts";

export interface CalibrationOptions {
  ffmpeg?: string;
  /** Wall time of the measurement, after warm-up (longer on a busy host, see maxWallMs). */
  durationMs?: number;
  /** Output frames ignored at the start (encoder pipelines filling). */
  warmupFrames?: number;
  /** Fewest frames to measure over, however long that takes (up to maxWallMs). */
  minFrames?: number;
  /** Hard limit of the whole encode. */
  maxWallMs?: number;
  /** Fraction of the measured capacity announced (headroom for audio, packaging, serving). */
  safety?: number;
  /** Cores to count; default: usable cores (affinity, cgroup quota). */
  cores?: number;
  logger?: Logger;
}

export interface CalibrationResult {
  loadUnits: number;
  /** CPU-seconds per output megapixel of the calibration ladder. */
  cpuSecondsPerMpx: number;
  cores: number;
  frames: number;
  cpuSeconds: number;
  wallSeconds: number;
  /** What a wall-clock calibration would have announced from the same run (diagnostics). */
  wallLoadUnits: number;
  /** "proc": CPU between progress reports; "rusage": whole process (start-up included). */
  method: "proc" | "rusage";
  measured: true;
}

export const DEFAULT_SAFETY = 0.8;
export const CALIBRATION_FPS = 30;

/** The work measured: the default ladder's encoded video renditions. */
export const CALIBRATION_LADDER: Rendition[] = (
  BUILTIN_PROFILES[DEFAULT_PROFILE_ID]?.renditions ?? []
).filter((r) => r.codec !== "copy");

/** Output megapixels per frame of the calibration ladder (720p + 480p + 360p = 1.562). */
export const CALIBRATION_MPX_PER_FRAME = CALIBRATION_LADDER.reduce(
  (s, r) => s + ((r.width ?? 0) * (r.height ?? 0)) / 1e6,
  0,
);

/** Pure conversion: CPU spent on `frames` ladder frames → load units for `cores`. */
export function capacityFromCpu(m: {
  cpuSeconds: number;
  frames: number;
  cores: number;
  mpxPerFrame?: number;
  safety?: number;
}): { loadUnits: number; cpuSecondsPerMpx: number } {
  const mpx = m.frames * (m.mpxPerFrame ?? CALIBRATION_MPX_PER_FRAME);
  if (!(m.cpuSeconds > 0) || !(mpx > 0)) throw new Error("calibration measured no CPU time or no frames");
  const cpuSecondsPerMpx = m.cpuSeconds / mpx;
  const loadUnits = Math.round((m.cores / cpuSecondsPerMpx) * (m.safety ?? DEFAULT_SAFETY) * 10) / 10;
  return { loadUnits, cpuSecondsPerMpx };
}

/** Parses `-progress` key=value blocks; returns the frame count of each completed block. */
export function parseProgressFrames(chunk: string): number[] {
  const out: number[] = [];
  let frame: number | undefined;
  for (const line of chunk.split("\n")) {
    const [k, v] = line.trim().split("=", 2);
    if (k === "frame" && v !== undefined) frame = Number(v);
    else if (k === "progress" && frame !== undefined && Number.isFinite(frame)) {
      out.push(frame);
      frame = undefined;
    }
  }
  return out;
}

/** The calibration command: the ladder's filter graph and encoder flags, output discarded. */
export function calibrationArgs(): string[] {
  const { graph, labels } = buildFilterGraph(CALIBRATION_LADDER);
  const args = [
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "error",
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=1280x720:rate=${CALIBRATION_FPS}`,
    "-t",
    "3600",
    "-filter_complex",
    graph,
  ];
  for (const r of CALIBRATION_LADDER) args.push("-map", `[${labels.get(r.name)}]`);
  CALIBRATION_LADDER.forEach((r, i) => {
    args.push(...videoEncodeArgs(r, i, 2));
  });
  args.push("-f", "null", "-progress", "pipe:1", "-stats_period", "0.25", "-");
  return args;
}

/**
 * Operator override (ORIGIN_CAPACITY_UNITS) wins; otherwise measure. A failed calibration
 * (no ffmpeg, no libx264) yields `fallback` with `measured: false` rather than no capacity.
 */
export async function resolveCapacity(
  override: number | undefined,
  fallback: number,
  o: CalibrationOptions = {},
): Promise<{ loadUnits: number; measured: boolean; cpuSecondsPerMpx?: number }> {
  if (override !== undefined) return { loadUnits: override, measured: false };
  try {
    const r = await measureCapacity(o);
    return { loadUnits: r.loadUnits, measured: true, cpuSecondsPerMpx: r.cpuSecondsPerMpx };
  } catch (err) {
    o.logger?.warn({ err: (err as Error).message, fallback }, "capacity calibration failed; using fallback");
    return { loadUnits: fallback, measured: false };
  }
}

interface Mark {
  at: number;
  frame: number;
  cpu: number | undefined;
}

export async function measureCapacity(o: CalibrationOptions = {}): Promise<CalibrationResult> {
  const durationMs = o.durationMs ?? 2500;
  const warmupFrames = o.warmupFrames ?? 30;
  const minFrames = o.minFrames ?? 90;
  const maxWallMs = o.maxWallMs ?? Math.max(20_000, durationMs * 8);
  const cores = o.cores ?? usableCores();
  const [cmd, args] = dieWithParent(o.ffmpeg ?? "ffmpeg", calibrationArgs());
  const proc = Bun.spawn([cmd, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = new Response(proc.stderr).text();
  const t0 = performance.now();
  const timer = setTimeout(() => proc.kill("SIGKILL"), maxWallMs);
  let start: Mark | undefined;
  let last: Mark | undefined;
  let lastFrame = 0;
  const decoder = new TextDecoder();
  try {
    for await (const chunk of proc.stdout) {
      const now = performance.now();
      for (const frame of parseProgressFrames(decoder.decode(chunk, { stream: true }))) {
        lastFrame = frame;
        if (frame < warmupFrames) continue;
        const mark = { at: now, frame, cpu: processCpuSeconds(proc.pid) };
        if (!start) start = mark;
        else last = mark;
      }
      if (start && last && last.at - start.at >= durationMs && last.frame - start.frame >= minFrames) break;
    }
  } finally {
    clearTimeout(timer);
    proc.kill("SIGKILL");
  }
  await proc.exited;
  const wallSeconds = (performance.now() - t0) / 1000;
  let method: CalibrationResult["method"] = "proc";
  let cpuSeconds: number;
  let frames: number;
  let wall: number;
  if (start?.cpu !== undefined && last?.cpu !== undefined && last.frame > start.frame) {
    cpuSeconds = last.cpu - start.cpu;
    frames = last.frame - start.frame;
    wall = (last.at - start.at) / 1000;
  } else {
    // No /proc (not Linux): the whole process's rusage, start-up included (a little pessimistic).
    const ru = proc.resourceUsage();
    method = "rusage";
    cpuSeconds = ru ? Number(ru.cpuTime.user + ru.cpuTime.system) / 1e6 : 0;
    frames = lastFrame;
    wall = wallSeconds;
  }
  if (!(frames > 0) || !(cpuSeconds > 0)) {
    const err = (await stderr).trim().slice(0, 500);
    throw new Error(
      `calibration encode produced no progress (exit ${proc.exitCode ?? proc.signalCode}): ${err}`,
    );
  }
  const safety = o.safety ?? DEFAULT_SAFETY;
  const c = capacityFromCpu({ cpuSeconds, frames, cores, safety });
  const r: CalibrationResult = {
    loadUnits: c.loadUnits,
    cpuSecondsPerMpx: Math.round(c.cpuSecondsPerMpx * 1e6) / 1e6,
    cores: Math.round(cores * 100) / 100,
    frames,
    cpuSeconds: Math.round(cpuSeconds * 100) / 100,
    wallSeconds: Math.round(wall * 1000) / 1000,
    wallLoadUnits: Math.round((frames / wall) * CALIBRATION_MPX_PER_FRAME * safety * 10) / 10,
    method,
    measured: true,
  };
  o.logger?.info({ ...r }, "capacity calibrated");
  return r;
}
