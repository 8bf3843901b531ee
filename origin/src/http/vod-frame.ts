/**
 * Where a VOD asset's frame at `time` is (ADR 0095): the asset's top variant playlist, the segment
 * that holds the time, its init segment, and the offset into it. Only that one segment is decoded
 * to make the thumbnail, not the asset up to it. Paths are resolved inside the asset's folder.
 */
import { readFile } from "node:fs/promises";
import { dirname, resolve, sep } from "node:path";
import { parseMediaPlaylist } from "../supervisor/playlist.ts";

export type FrameAt =
  | { ok: true; files: string[]; offset: number; container: "mp4" | "mpegts" }
  | { ok: false; status: 400 | 404; reason: string };

const TIME = /^(?:0|[1-9][0-9]{0,5})(?:\.[0-9]{1,3})?$/;

/** `time=` in seconds (default 0): a plain decimal, at most three places (pure). */
export function parseTime(search: string): { ok: true; time: number } | { ok: false; reason: string } {
  const all = new URLSearchParams(search).getAll("time");
  if (all.length === 0) return { ok: true, time: 0 };
  if (all.length > 1) return { ok: false, reason: "time given more than once" };
  const raw = all[0]!;
  if (!TIME.test(raw))
    return { ok: false, reason: `time must be seconds like 12.5, got ${JSON.stringify(raw)}` };
  return { ok: true, time: Number(raw) };
}

/** The first variant a master playlist lists (ours lists the top rung first). */
function firstVariant(master: string): string | undefined {
  const lines = master.split("\n").map((l) => l.trim());
  const i = lines.findIndex((l) => l.startsWith("#EXT-X-STREAM-INF"));
  return i < 0 ? undefined : lines.slice(i + 1).find((l) => l !== "" && !l.startsWith("#"));
}

export async function frameAt(assetDir: string, time: number): Promise<FrameAt> {
  const inside = (p: string) => p.startsWith(assetDir + sep);
  const master = await readFile(resolve(assetDir, "master.m3u8"), "utf8").catch(() => undefined);
  if (master === undefined) return { ok: false, status: 404, reason: "no such asset on this node" };
  const variant = firstVariant(master);
  const playlistPath = variant ? resolve(assetDir, variant) : undefined;
  if (!playlistPath || !inside(playlistPath))
    return { ok: false, status: 404, reason: "the asset has no video" };
  const info = parseMediaPlaylist(await readFile(playlistPath, "utf8").catch(() => ""));
  let start = 0;
  for (let i = 0; i < info.segments.length; i++) {
    const d = info.durations[i] ?? 0;
    if (time < start + d || i === info.segments.length - 1) {
      if (time > start + d) break;
      const base = dirname(playlistPath);
      // Each segment's own init segment: a new one after every discontinuity.
      const map = info.maps[i];
      const files = [...(map ? [resolve(base, map)] : []), resolve(base, info.segments[i]!)];
      if (!files.every(inside)) return { ok: false, status: 404, reason: "segment outside the asset" };
      return {
        ok: true,
        files,
        offset: Math.max(0, time - start),
        container: map ? "mp4" : "mpegts",
      };
    }
    start += d;
  }
  return {
    ok: false,
    status: 400,
    reason: `time must be within the asset's ${Math.round(start * 1000) / 1000} s`,
  };
}
