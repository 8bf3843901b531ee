/** The ffmpeg transcoder back end: available everywhere, the default. */
import { detectBinary, parseFfmpegVersion } from "../detect.ts";
import type {
  BackendDetection,
  OutputLayout,
  ProcessCommand,
  TranscodeJob,
  TranscoderBackend,
} from "../types.ts";
import { buildFfmpegCommand, type FfmpegCommandOptions, ffmpegLayout } from "./command.ts";

export { buildFfmpegCommand, buildFilterGraph, ffmpegLayout } from "./command.ts";

export class FfmpegBackend implements TranscoderBackend {
  readonly name = "ffmpeg" as const;
  private detection: Promise<BackendDetection> | undefined;
  constructor(private readonly opts: FfmpegCommandOptions = {}) {}

  detect(): Promise<BackendDetection> {
    this.detection ??= detectBinary(
      this.opts.bin ?? "ffmpeg",
      ["-hide_banner", "-version"],
      parseFfmpegVersion,
    );
    return this.detection;
  }

  async available(): Promise<boolean> {
    return (await this.detect()).ok;
  }

  buildCommand(job: TranscodeJob): ProcessCommand {
    return buildFfmpegCommand(job, this.opts);
  }

  layout(job: TranscodeJob): OutputLayout {
    return ffmpegLayout(job, this.opts);
  }
}
