/**
 * The supervisor's side of recordings (ADR 0095): whether the disk still has room for segments,
 * and turning a session's recording into an asset when the stream ends. The recording itself
 * (links, VOD playlists, MPD) is origin/src/recording/.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { DesiredStream } from "@dionysia/shared";
import type { AssetMeta } from "../recording/recording.ts";
import { freeBytes } from "../recording/store.ts";
import { streamDir } from "./run.ts";
import type { Entry, ResolvedOptions } from "./types.ts";

/** Free space of the data dir's disk at least `minFree` bytes (0: no floor), asked every 5 s at most. */
export function diskRoomCheck(dataDir: string, minFree = 0): () => Promise<boolean> {
  let checked = { at: 0, ok: true };
  return async () => {
    if (minFree <= 0) return true;
    const now = Date.now();
    if (now - checked.at < 5000) return checked.ok;
    const free = await freeBytes(dataDir);
    checked = { at: now, ok: free === undefined || free >= minFree };
    return checked.ok;
  };
}

/** The session is over: its recording becomes an asset (or goes, if it kept nothing). */
export async function finishRecording(
  o: ResolvedOptions,
  e: Entry,
  spec: DesiredStream | undefined,
): Promise<AssetMeta | undefined> {
  const r = e.recording;
  if (!r) return undefined;
  e.recording = undefined;
  const log = o.logger.child({ streamId: e.id, assetId: r.id });
  try {
    const master = await readFile(join(streamDir(o, e.id), "master.m3u8"), "utf8").catch(() => undefined);
    const meta = await r.finish({
      master,
      nodeId: o.nodeId ?? "local",
      renditions: (spec?.profile ?? e.run?.job.profile)?.renditions.map((x) => x.name) ?? e.renditions ?? [],
      playbackPolicy: spec?.playbackPolicy ?? "public",
    });
    if (meta)
      log.info(
        { durationSeconds: meta.durationSeconds, sessions: meta.sessions, bytes: meta.bytes },
        "recording ready",
      );
    return meta;
  } catch (err) {
    log.error({ err: (err as Error).message }, "recording could not be finished");
    await r.discard().catch(() => undefined);
    return undefined;
  }
}
