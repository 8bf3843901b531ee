/** The ffmpeg transcoder back end: available everywhere, the default. */
import { execa } from "execa";
import type { OutputLayout, ProcessCommand, TranscodeJob, TranscoderBackend } from "../types.ts";
import { buildFfmpegCommand, type FfmpegCommandOptions, ffmpegLayout } from "./command.ts";

export { buildFfmpegCommand, buildFilterGraph, ffmpegLayout } from "./command.ts";

export class FfmpegBackend implements TranscoderBackend {
  readonly name = "ffmpeg" as const;
  constructor(private readonly opts: FfmpegCommandOptions = {}) {}

  async available(): Promise<boolean> {
    const r = await execa(this.opts.bin ?? "ffmpeg", ["-hide_banner", "-version"], {
      reject: false,
      timeout: 10_000,
    });
    return r.exitCode === 0;
  }

  buildCommand(job: TranscodeJob): ProcessCommand {
    return buildFfmpegCommand(job, this.opts);
  }

  layout(job: TranscodeJob): OutputLayout {
    return ffmpegLayout(job);
  }
}
