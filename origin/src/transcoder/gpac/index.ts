/** The gpac transcoder back end: used when gpac is installed and chosen (TRANSCODER=gpac|auto). */
import { detectBinary, parseGpacVersion } from "../detect.ts";
import { planOutputs } from "../plan.ts";
import type {
  BackendDetection,
  OutputLayout,
  ProcessCommand,
  TranscodeJob,
  TranscoderBackend,
} from "../types.ts";
import { buildGpacCommand, type GpacCommandOptions, gpacLayout } from "./command.ts";

export { buildGpacCommand, gpacLayout, gpacPlaylist } from "./command.ts";

export class GpacBackend implements TranscoderBackend {
  readonly name = "gpac" as const;
  private detection: Promise<BackendDetection> | undefined;
  constructor(private readonly opts: GpacCommandOptions = {}) {}

  /** `gpac -h bin`: exits 0 and prints "Version: …" (gpac has no `-version` flag; it exits 1). */
  detect(): Promise<BackendDetection> {
    this.detection ??= detectBinary(this.opts.bin ?? "gpac", ["-h", "bin"], parseGpacVersion);
    return this.detection;
  }

  async available(): Promise<boolean> {
    return (await this.detect()).ok;
  }

  buildCommand(job: TranscodeJob): ProcessCommand {
    // gpac 26.07's fragmented-MP4 muxer, fed through its ffavf frame-rate stage, writes each
    // fragment's first and last sample with the source's duration in the wrong timescale: holes
    // every part, and hls.js stalls on them (tried, ADR 0083). Refused rather than served so.
    if (planOutputs(job).lowLatency)
      throw new Error("the gpac back end does not serve ll-hls yet: use TRANSCODER=ffmpeg for this profile");
    return buildGpacCommand(job, this.opts);
  }

  layout(job: TranscodeJob): OutputLayout {
    return gpacLayout(job);
  }
}
