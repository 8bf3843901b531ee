/** Picks the back end from TRANSCODER=ffmpeg|gpac|auto (auto: gpac when installed, else ffmpeg). */
import type { Logger } from "@dionysia/shared";
import { FfmpegBackend } from "./ffmpeg/index.ts";
import { GpacBackend } from "./gpac/index.ts";
import type { TranscoderBackend } from "./types.ts";

export interface SelectOptions {
  logger?: Logger;
  /** For tests: the back ends to choose from. */
  ffmpeg?: FfmpegBackend;
  gpac?: GpacBackend;
}

export async function selectBackend(
  choice: "ffmpeg" | "gpac" | "auto",
  o: SelectOptions = {},
): Promise<TranscoderBackend> {
  const ffmpeg = o.ffmpeg ?? new FfmpegBackend();
  const chosen = choice === "ffmpeg" ? undefined : await pickGpac(choice, o);
  const backend: FfmpegBackend | GpacBackend = chosen ?? ffmpeg;
  const d = await backend.detect();
  // ffmpeg missing is not fatal here: the supervisor reports each failed start with its reason.
  if (d.ok) o.logger?.info({ transcoder: backend.name, version: d.version, choice }, "transcoder back end");
  else
    o.logger?.warn({ transcoder: backend.name, reason: d.reason, choice }, "transcoder back end not usable");
  return backend;
}

async function pickGpac(choice: "gpac" | "auto", o: SelectOptions): Promise<GpacBackend | undefined> {
  const gpac = o.gpac ?? new GpacBackend();
  const d = await gpac.detect();
  if (d.ok) return gpac;
  if (choice === "gpac") throw new Error(`TRANSCODER=gpac but gpac is not usable: ${d.reason}`);
  o.logger?.info({ reason: d.reason }, "gpac not found; TRANSCODER=auto uses ffmpeg");
  return undefined;
}
