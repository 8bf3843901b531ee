/** The gpac transcoder back end: used when gpac is installed and chosen (TRANSCODER=gpac|auto). */
import { execa } from "execa";
import type { OutputLayout, ProcessCommand, TranscodeJob, TranscoderBackend } from "../types.ts";
import { buildGpacCommand, type GpacCommandOptions, gpacLayout } from "./command.ts";

export { buildGpacCommand, gpacLayout } from "./command.ts";

export class GpacBackend implements TranscoderBackend {
  readonly name = "gpac" as const;
  constructor(private readonly opts: GpacCommandOptions = {}) {}

  async available(): Promise<boolean> {
    try {
      const r = await execa(this.opts.bin ?? "gpac", ["-version"], { reject: false, timeout: 10_000 });
      return r.exitCode === 0;
    } catch {
      return false;
    }
  }

  buildCommand(job: TranscodeJob): ProcessCommand {
    return buildGpacCommand(job, this.opts);
  }

  layout(job: TranscodeJob): OutputLayout {
    return gpacLayout(job);
  }
}
