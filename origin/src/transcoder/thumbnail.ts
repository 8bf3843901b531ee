/**
 * Live thumbnails (ADR 0093): the transcoder that already decodes the stream writes its latest
 * frame as one JPEG, overwritten every few seconds, from one more branch of the same filter graph
 * (no second decode). This module is the one place that says whether a job has one, where it is,
 * how often it changes and how wide it is; back ends, the HTTP layer and the tests read it here.
 */
import type { OutputPlan } from "./plan.ts";

/** The file's name inside the job's folder (the HTTP path is `/live/{id}/thumbnail.jpg`). */
export const THUMBNAIL_FILE = "thumbnail.jpg";
/** Seconds between two frames written: also the `max-age` the HTTP layer gives the file. */
export const DEFAULT_THUMBNAIL_INTERVAL_SEC = 5;
/** The thumbnail is the top rung's width, never wider than this (height keeps the aspect). */
export const MAX_THUMBNAIL_WIDTH = 1280;

/** Back-end option: `false` turns thumbnails off (the bench measures with and without). */
export type ThumbnailOptions = false | { intervalSec?: number };

export interface Thumbnail {
  /** Relative to the job's outDir. */
  file: string;
  intervalSec: number;
  width: number;
}

export type ThumbnailPlan = ({ ok: true } & Thumbnail) | { ok: false; reason: string };

export const NO_THUMBNAIL = {
  off: "thumbnails are turned off for this back end",
  audioOnly: "audio-only stream: there is no picture to take",
  passthrough:
    "passthrough profile: every video rendition is a codec copy, nothing is decoded, so no frame to take (ADR 0093)",
} as const;

/** Whether, and how, a planned job writes a thumbnail (pure). */
export function planThumbnail(plan: OutputPlan, o: ThumbnailOptions = {}): ThumbnailPlan {
  if (o === false) return { ok: false, reason: NO_THUMBNAIL.off };
  if (plan.video.length === 0) return { ok: false, reason: NO_THUMBNAIL.audioOnly };
  // Only encoded rungs go through the decoder; the thumbnail rides on their decode.
  const widths = plan.video.flatMap((r) => (r.codec !== "copy" && r.width ? [r.width] : []));
  if (widths.length === 0) return { ok: false, reason: NO_THUMBNAIL.passthrough };
  const intervalSec = o.intervalSec ?? DEFAULT_THUMBNAIL_INTERVAL_SEC;
  if (!(intervalSec > 0)) throw new Error(`thumbnail interval must be > 0 s, got ${intervalSec}`);
  // Even: JPEG's 4:2:0 chroma wants it, and `-2` keeps the height even too.
  const width = Math.min(MAX_THUMBNAIL_WIDTH, Math.max(...widths)) & ~1;
  return { ok: true, file: THUMBNAIL_FILE, intervalSec, width };
}

/**
 * The graph branch: the first frame at once, then one per interval (`select`, not `fps=1/N`: the
 * fps filter holds its first frame until half an interval has passed, and ffmpeg reports no
 * progress at all until every output has a frame, so the stream went live with no encoder
 * figures), scaled to the width (aspect kept from the source), converted to full-range 4:2:0 as
 * JPEG wants (without `out_range` swscale warns on every frame).
 */
export function thumbnailFilter(t: Thumbnail): string {
  return `select='isnan(prev_selected_t)+gte(t-prev_selected_t,${t.intervalSec})',scale=${t.width}:-2:out_range=full,format=yuvj420p`;
}

/**
 * The output: mjpeg through image2 overwriting one file (`-update 1`), each frame written to a
 * temporary name and renamed (`-atomic_writing 1`), so a reader never sees half a JPEG.
 */
export function thumbnailOutputArgs(t: Thumbnail, outDir: string, label: string): string[] {
  return [
    "-map",
    `[${label}]`,
    // The selected frames as they are: the default (cfr) would repeat each to the stream's rate.
    "-fps_mode",
    "vfr",
    "-c:v",
    "mjpeg",
    "-q:v",
    "4",
    "-f",
    "image2",
    "-update",
    "1",
    "-atomic_writing",
    "1",
    `${outDir}/${t.file}`,
  ];
}
