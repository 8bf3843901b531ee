/** What a job actually produces once the probed input is taken into account (shared by back ends). */
import { type AudioSettings, partDurationOf, type Rendition } from "@dionysia/shared";
import type { TranscodeJob } from "./types.ts";

export interface OutputPlan {
  video: Rendition[];
  audio: AudioSettings | null;
  segmentDuration: number;
  windowSize: number;
  dash: boolean;
  hls: boolean;
  /** `ll-hls` asked for: CMAF chunks to the packager (origin/src/packager) instead of a muxer. */
  lowLatency: boolean;
  /** Seconds per CMAF chunk (LL-HLS part) when lowLatency. */
  partDuration: number;
  container: "fmp4" | "ts";
  runId: string;
}

export const DEFAULT_WINDOW = 6;

export function planOutputs(job: TranscodeJob): OutputPlan {
  const p = job.profile;
  const video = job.input?.hasVideo === false ? [] : p.renditions;
  const audio = job.input?.hasAudio === false ? null : p.audio;
  if (video.length === 0 && !audio) {
    throw new Error(`stream ${job.streamId}: nothing to transcode (profile and input share no media)`);
  }
  const container = p.container ?? "fmp4";
  return {
    video,
    audio,
    segmentDuration: p.segmentDuration,
    windowSize: p.windowSize ?? DEFAULT_WINDOW,
    // TS segments cannot back DASH: validateProfile refuses the combination, ignore it here too.
    dash: p.formats.includes("dash") && container === "fmp4",
    hls: p.formats.includes("hls") || p.formats.includes("ll-hls") || container === "ts",
    lowLatency: p.formats.includes("ll-hls") && container === "fmp4",
    partDuration: partDurationOf(p),
    container,
    runId: job.runId ?? "0",
  };
}

/** Folder of the shared audio rendition: "audio" unless a video rendition already took that name. */
export function audioDirName(video: Rendition[]): string {
  return video.some((r) => r.name === "audio") ? "audio-main" : "audio";
}

/** GOP length in frames: one keyframe per segment so every segment starts with one. */
export function gopFrames(segmentDuration: number, fps: number): number {
  return Math.max(1, Math.round(segmentDuration * fps));
}
