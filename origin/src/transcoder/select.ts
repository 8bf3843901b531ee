/**
 * Picks the back end from TRANSCODER=ffmpeg|gpac|auto. auto: ffmpeg when it answers, else gpac
 * (ADR 0099): ffmpeg makes everything a profile can ask for (thumbnails, low latency from any
 * source rate, at the lowest latency measured), gpac is what an operator chooses by name.
 */
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
  const backend = choice === "ffmpeg" ? ffmpeg : await pick(choice, ffmpeg, o);
  const d = await backend.detect();
  // ffmpeg missing is not fatal here: the supervisor reports each failed start with its reason.
  if (d.ok) o.logger?.info({ transcoder: backend.name, version: d.version, choice }, "transcoder back end");
  else
    o.logger?.warn({ transcoder: backend.name, reason: d.reason, choice }, "transcoder back end not usable");
  return backend;
}

async function pick(
  choice: "gpac" | "auto",
  ffmpeg: FfmpegBackend,
  o: SelectOptions,
): Promise<FfmpegBackend | GpacBackend> {
  if (choice === "auto" && (await ffmpeg.detect()).ok) return ffmpeg;
  const gpac = o.gpac ?? new GpacBackend();
  const d = await gpac.detect();
  if (d.ok) return gpac;
  if (choice === "gpac") throw new Error(`TRANSCODER=gpac but gpac is not usable: ${d.reason}`);
  o.logger?.info({ reason: d.reason }, "neither ffmpeg nor gpac answers; TRANSCODER=auto tries ffmpeg");
  return ffmpeg;
}
