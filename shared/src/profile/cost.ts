/**
 * Transcode cost of a profile in "load units": the output pixel rate in megapixels per second,
 * so one 1280x720@30 rendition costs 27.6 and the built-in 720p ladder 47.1. Copy renditions and
 * audio cost a small constant (demux/mux work). A node's capacity is announced in the same units:
 * the origin calibrates it by the CPU time of encoding the built-in ladder (ADR 0044), so a unit
 * means the same work on both sides.
 */
import type { ProfileSpec } from "../schemas/profile.ts";

export const COPY_COST = 0.5;
export const AUDIO_COST = 0.25;
export const DEFAULT_FPS = 30;

export function renditionCost(r: ProfileSpec["renditions"][number]): number {
  if (r.codec === "copy") return COPY_COST;
  const px = (r.width ?? 0) * (r.height ?? 0);
  const codecFactor = r.codec === "hevc" ? 2 : 1;
  return (px * (r.fps ?? DEFAULT_FPS) * codecFactor) / 1e6;
}

export function profileCost(p: ProfileSpec): number {
  let cost = 0;
  for (const r of p.renditions) cost += renditionCost(r);
  if (p.audio) cost += p.audio.codec === "copy" ? COPY_COST / 2 : AUDIO_COST;
  return Math.round(cost * 1000) / 1000;
}
