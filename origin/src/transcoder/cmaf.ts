/**
 * Where a low-latency job's CMAF chunk streams go, for every back end (ADR 0083): one per rung,
 * then one for the shared audio, on descriptors 3, 4, …; the packager writes them into the same
 * folders plain HLS uses, so the master playlist is the same.
 */
import { audioDirName, type OutputPlan } from "./plan.ts";
import type { Thumbnail } from "./thumbnail.ts";
import type { OutputLayout } from "./types.ts";

/** First descriptor after stdin, stdout (progress) and stderr: the chunk streams go there. */
export const FIRST_CMAF_FD = 3;

/** The layout of a low-latency job (no files of the back end's own: the packager writes). */
export function cmafLayout(plan: OutputPlan, thumbnail?: Thumbnail): OutputLayout {
  const adir = audioDirName(plan.video);
  const cmaf: NonNullable<OutputLayout["cmaf"]> = plan.video.map((rendition, i) => ({
    kind: "video",
    rendition,
    fd: FIRST_CMAF_FD + i,
    dir: rendition.name,
    playlist: `${rendition.name}/index.m3u8`,
  }));
  if (plan.audio)
    cmaf.push({
      kind: "audio",
      fd: FIRST_CMAF_FD + plan.video.length,
      dir: adir,
      playlist: `${adir}/index.m3u8`,
    });
  return {
    master: "master.m3u8",
    ...(plan.dash ? { dash: "manifest.mpd" } : {}),
    variants: plan.video.map((rendition) => ({ rendition, playlist: `${rendition.name}/index.m3u8` })),
    audio: plan.audio ? { playlist: `${adir}/index.m3u8` } : undefined,
    dirs: [],
    cmaf,
    ...(thumbnail ? { thumbnail } : {}),
  };
}
