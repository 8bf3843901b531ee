/** The gpac transcoder back end: used when gpac is installed and chosen (TRANSCODER=gpac|auto). */
import { detectBinary, parseGpacVersion } from "../detect.ts";
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

  /** Throws the reason for a job it cannot make (gpacRefusal, ADR 0099). */
  buildCommand(job: TranscodeJob): ProcessCommand {
    return buildGpacCommand(job, this.opts);
  }

  layout(job: TranscodeJob): OutputLayout {
    return gpacLayout(job);
  }
}
