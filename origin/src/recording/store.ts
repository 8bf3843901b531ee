/**
 * The assets an origin holds on disk (`{dataDir}/vod/{id}/`, each with its `asset.json`): listed
 * at start (re-reported, so control learns of any it missed), removed when control deletes one,
 * and the free-space check that stops recordings before the disk fills.
 */
import { readdir, readFile, rm, statfs } from "node:fs/promises";
import { join } from "node:path";
import { AssetReport, SAFE_ID, validate } from "@dionysia/shared";
import { ASSET_FILE, type AssetMeta } from "./recording.ts";

export async function listAssets(vodRoot: string): Promise<AssetMeta[]> {
  const names = await readdir(vodRoot).catch(() => [] as string[]);
  const out: AssetMeta[] = [];
  for (const n of names) {
    if (!SAFE_ID.test(n)) continue;
    try {
      const meta = JSON.parse(await readFile(join(vodRoot, n, ASSET_FILE), "utf8")) as AssetMeta;
      const { playbackPolicy, ...report } = meta;
      if (meta.id === n && !validate(AssetReport, report)) out.push(meta);
    } catch {
      // Not an asset (no or bad asset.json): left alone.
    }
  }
  return out;
}

/** Removes an asset's folder; false for an id that is not one. */
export async function removeAsset(vodRoot: string, id: string): Promise<boolean> {
  if (!SAFE_ID.test(id)) return false;
  await rm(join(vodRoot, id), { recursive: true, force: true });
  return true;
}

/** Recordings left half-made by an origin that stopped mid-session (`.rec-*`). */
export async function removeUnfinished(vodRoot: string): Promise<void> {
  const names = await readdir(vodRoot).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((n) => n.startsWith(".rec-"))
      .map((n) => rm(join(vodRoot, n), { recursive: true, force: true })),
  );
}

/** Bytes free for an unprivileged writer on the file system of `dir` (undefined if unknown). */
export async function freeBytes(dir: string): Promise<number | undefined> {
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}
