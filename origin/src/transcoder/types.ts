/**
 * The transcoder contract: a profile becomes one process per stream that decodes once and writes
 * every rendition, keyframe-aligned, as HLS (fMP4 or TS) and DASH into `outDir`.
 * Back ends: ffmpeg (everywhere) and gpac (when installed and chosen).
 */
import type { ProfileSpec, Rendition } from "@dionysia/shared";
import type { Thumbnail } from "./thumbnail.ts";

export interface TranscodeJob {
  streamId: string;
  profile: ProfileSpec;
  /** What ffmpeg/gpac reads: rtmp://127.0.0.1/..., srt://..., a file. May hold a secret: never log. */
  inputUrl: string;
  /** `{dataDir}/live/{streamId}`: master.m3u8, manifest.mpd, one folder per rendition. */
  outDir: string;
  /**
   * Distinguishes this process run in segment file names. Segments are served `immutable`, so a
   * restarted encoder must never reuse a name an earlier run wrote. Default "0".
   */
  runId?: string;
  /** What the input carries, when probed. Unknown: trust the profile. */
  input?: { hasVideo: boolean; hasAudio: boolean; frameRate?: number };
  /** The time source every DASH manifest names in `<UTCTiming>` (the node's or router's /time). */
  utcTimingUrl?: string;
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

/** One video rendition as written: where its media playlist lives, relative to outDir. */
export interface VariantOutput {
  rendition: Rendition;
  /** Media playlist path relative to outDir, e.g. "720p/index.m3u8" or "media_0.m3u8". */
  playlist: string;
}

/**
 * One CMAF chunk stream of a low-latency job: the process writes fragmented MP4 (one fragment per
 * part) to file descriptor `fd`, and the packager (origin/src/packager) cuts it into parts and
 * segments under `dir` (relative to the stream folder), serving `playlist`.
 */
export interface CmafOutput {
  kind: "video" | "audio";
  /** The video rendition; absent for the shared audio. */
  rendition?: Rendition;
  fd: number;
  dir: string;
  playlist: string;
  /**
   * A named pipe the back end opens instead of writing to descriptor `fd` (gpac, ADR 0099); the
   * origin makes it and reads it for the run.
   */
  fifo?: string;
}

/** Where a back end writes what, relative to `outDir`. The master playlist is ours to write. */
export interface OutputLayout {
  master: "master.m3u8";
  /** Present when the profile asks for DASH. */
  dash?: string;
  variants: VariantOutput[];
  /** The single shared audio rendition (encoded once), when the output has audio. */
  audio?: { playlist: string };
  /** Folders (relative to outDir) that must exist before the process starts. */
  dirs: string[];
  /** Low-latency jobs: the chunk streams the packager reads (the playlists are its, not files). */
  cmaf?: CmafOutput[];
  /** The latest-frame JPEG the process overwrites (ADR 0093); absent when the job has none. */
  thumbnail?: Thumbnail;
}

/** What running the binary told us: its version, or why it is not usable. */
export type BackendDetection = { ok: true; version: string } | { ok: false; reason: string };

export interface TranscoderBackend {
  readonly name: "ffmpeg" | "gpac";
  /** True when the binary is on PATH (or configured) and usable. */
  available(): Promise<boolean>;
  /** Runs the binary's version command (exit 0 expected) and parses the version it prints. */
  detect?(): Promise<BackendDetection>;
  /** Pure: the command line for a job (throws why it cannot make it). Unit-tested without running. */
  buildCommand(job: TranscodeJob): ProcessCommand;
  /** Pure: the files the command writes, so the supervisor can watch them and write the master. */
  layout(job: TranscodeJob): OutputLayout;
}
