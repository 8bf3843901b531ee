/** Picks the back end from TRANSCODER=ffmpeg|gpac|auto (auto: gpac when installed, else ffmpeg). */
import { FfmpegBackend } from "./ffmpeg/index.ts";
import { GpacBackend } from "./gpac/index.ts";
import type { TranscoderBackend } from "./types.ts";

export async function selectBackend(choice: "ffmpeg" | "gpac" | "auto"): Promise<TranscoderBackend> {
  const ffmpeg = new FfmpegBackend();
  if (choice === "ffmpeg") return ffmpeg;
  const gpac = new GpacBackend();
  const hasGpac = await gpac.available();
  if (choice === "gpac") {
    if (!hasGpac) throw new Error("TRANSCODER=gpac but gpac is not on PATH");
    return gpac;
  }
  return hasGpac ? gpac : ffmpeg;
}
