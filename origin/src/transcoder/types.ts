/**
 * The transcoder contract: a profile becomes one process per stream that decodes once and writes
 * every rendition, keyframe-aligned, as HLS (fMP4 or TS) and DASH into `outDir`.
 * Back ends: ffmpeg (everywhere) and gpac (when installed and chosen).
 */
import type { ProfileSpec } from "@dionysia/shared";

export interface TranscodeJob {
  streamId: string;
  profile: ProfileSpec;
  /** What ffmpeg/gpac reads: rtmp://127.0.0.1/..., srt://..., a file. May hold a secret: never log. */
  inputUrl: string;
  /** `{dataDir}/live/{streamId}`: master.m3u8, manifest.mpd, one folder per rendition. */
  outDir: string;
}

export interface TranscoderStats {
  frames?: number;
  fps?: number;
  /** Encoder speed as a multiple of real time (1.0 = keeping up). */
  speed?: number;
  bitrateKbps?: number;
  outTimeSec?: number;
  segmentsWritten?: number;
}

export interface ProcessCommand {
  cmd: string;
  args: string[];
}

export interface TranscoderBackend {
  readonly name: "ffmpeg" | "gpac";
  /** True when the binary is on PATH (or configured) and usable. */
  available(): Promise<boolean>;
  /** Pure: the command line for a job. Unit-tested without running anything. */
  buildCommand(job: TranscodeJob): ProcessCommand;
}
