/**
 * Capacity calibration: a short real x264 encode of a test pattern measures how many output
 * megapixels per second this host sustains, which is the unit of stream cost
 * (shared/src/profile/cost.ts: a 1280x720@30 rendition costs 27.6). ffmpeg runs for a fixed
 * wall time with `-progress`, and only frames after a warm-up count, so the result does not
 * depend on process start-up or on how fast the machine is.
 */

import type { Logger } from "@dionysia/shared";
import { execa } from "execa";
import { dieWithParent } from "../process/die-with-parent.ts";

export interface CalibrationOptions {
  ffmpeg?: string;
  width?: number;
  height?: number;
  fps?: number;
  preset?: string;
  /** Wall time of the measurement, after warm-up. */
  durationMs?: number;
  warmupMs?: number;
  /** Fraction of the measured rate announced as capacity (headroom for audio, packaging, serving). */
  safety?: number;
  logger?: Logger;
}

export interface CalibrationResult {
  loadUnits: number;
  /** Output megapixels per second measured. */
  mpxPerSecond: number;
  /** Encoder speed relative to real time at the test fps. */
  speed: number;
  frames: number;
  seconds: number;
  measured: true;
}

export const DEFAULT_SAFETY = 0.8;

/** Pure conversion: frames encoded in `seconds` at width x height → load units. */
export function capacityFromMeasurement(m: {
  frames: number;
  seconds: number;
  width: number;
  height: number;
  fps: number;
  safety?: number;
}): Omit<CalibrationResult, "measured"> {
  if (!(m.seconds > 0) || !(m.frames >= 0)) throw new Error("calibration measured no time");
  const fpsAchieved = m.frames / m.seconds;
  const mpxPerSecond = (fpsAchieved * m.width * m.height) / 1e6;
  const loadUnits = Math.round(mpxPerSecond * (m.safety ?? DEFAULT_SAFETY) * 10) / 10;
  return {
    loadUnits,
    mpxPerSecond: Math.round(mpxPerSecond * 100) / 100,
    speed: Math.round((fpsAchieved / m.fps) * 100) / 100,
    frames: m.frames,
    seconds: Math.round(m.seconds * 1000) / 1000,
  };
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

/**
 * Operator override (ORIGIN_CAPACITY_UNITS) wins; otherwise measure. A failed calibration
 * (no ffmpeg, no libx264) yields `fallback` with `measured: false` rather than no capacity.
 */
export async function resolveCapacity(
  override: number | undefined,
  fallback: number,
  o: CalibrationOptions = {},
): Promise<{ loadUnits: number; measured: boolean }> {
  if (override !== undefined) return { loadUnits: override, measured: false };
  try {
    const r = await measureCapacity(o);
    return { loadUnits: r.loadUnits, measured: true };
  } catch (err) {
    o.logger?.warn({ err: (err as Error).message, fallback }, "capacity calibration failed; using fallback");
    return { loadUnits: fallback, measured: false };
  }
}

export async function measureCapacity(o: CalibrationOptions = {}): Promise<CalibrationResult> {
  const width = o.width ?? 640;
  const height = o.height ?? 360;
  const fps = o.fps ?? 30;
  const durationMs = o.durationMs ?? 2000;
  const warmupMs = o.warmupMs ?? 500;
  const args = [
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "error",
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=${width}x${height}:rate=${fps}`,
    "-t",
    "3600",
    "-c:v",
    "libx264",
    "-preset",
    o.preset ?? "veryfast",
    "-pix_fmt",
    "yuv420p",
    "-g",
    String(fps * 2),
    "-f",
    "null",
    "-progress",
    "pipe:1",
    "-stats_period",
    "0.25",
    "-",
  ];
  const proc = execa(...dieWithParent(o.ffmpeg ?? "ffmpeg", args), {
    reject: false,
    stdin: "ignore",
    buffer: false,
  });
  let start: { at: number; frame: number } | undefined;
  let last: { at: number; frame: number } | undefined;
  const t0 = Date.now();
  proc.stdout?.setEncoding("utf8");
  proc.stdout?.on("data", (chunk: string) => {
    const now = performance.now();
    for (const frame of parseProgressFrames(chunk)) {
      if (Date.now() - t0 < warmupMs) continue;
      if (!start) start = { at: now, frame };
      else last = { at: now, frame };
    }
  });
  let stderr = "";
  proc.stderr?.setEncoding("utf8");
  proc.stderr?.on("data", (d: string) => {
    if (stderr.length < 4000) stderr += d;
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), warmupMs + durationMs);
  const done = await proc;
  clearTimeout(timer);
  if (!start || !last) {
    throw new Error(
      `calibration encode produced no progress (exit ${done.exitCode ?? done.signal}): ${stderr.trim().slice(0, 500)}`,
    );
  }
  const r = capacityFromMeasurement({
    frames: last.frame - start.frame,
    seconds: (last.at - start.at) / 1000,
    width,
    height,
    fps,
    safety: o.safety,
  });
  o.logger?.info({ ...r }, "capacity calibrated");
  return { ...r, measured: true };
}
