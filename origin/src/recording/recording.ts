/**
 * One stream's recording (issue 15, ADR 0095): every segment of every served playlist of a
 * session — all its publishes within one reconnect window — kept as it is served, then turned
 * into a VOD asset. Segments are hard-linked the moment the served playlist takes them (the
 * encoder deletes its own files as its window slides; a link keeps the bytes, costs no copy),
 * into `vod/.rec-{assetId}/` at the same relative paths, so the served playlists' URIs hold as
 * they are. `finish` writes VOD playlists (`EXT-X-PLAYLIST-TYPE:VOD`, `EXT-X-ENDLIST`), the master
 * and `asset.json`, then renames the folder to `vod/{assetId}/`, where the origin serves it.
 */
import { copyFile, link, mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import { type AssetReport, newStreamId } from "@dionysia/shared";
import { playlistVersion, type ServedSegment, segmentLines } from "../supervisor/served.ts";
import { buildVodMpd } from "./vod-mpd.ts";

export const ASSET_FILE = "asset.json";

/** What the origin keeps beside an asset's files: the report, and what it needs to serve it. */
export interface AssetMeta extends AssetReport {
  playbackPolicy: "public" | "signed";
}

/** A VOD media playlist of `segments` (pure). */
export function renderVodPlaylist(segments: readonly ServedSegment[]): string {
  const target = Math.max(1, ...segments.map((s) => Math.round(s.duration)));
  return `${[
    "#EXTM3U",
    `#EXT-X-VERSION:${playlistVersion(segments)}`,
    `#EXT-X-TARGETDURATION:${target}`,
    "#EXT-X-PLAYLIST-TYPE:VOD",
    "#EXT-X-MEDIA-SEQUENCE:0",
    "#EXT-X-INDEPENDENT-SEGMENTS",
    ...segmentLines(segments),
    "#EXT-X-ENDLIST",
  ].join("\n")}\n`;
}

/** Hard link, or a copy where a link cannot be made (another file system). */
async function keep(from: string, to: string): Promise<number> {
  await mkdir(dirname(to), { recursive: true });
  try {
    await link(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return 0;
    if (code !== "EXDEV" && code !== "EPERM") throw err;
    await copyFile(from, to);
  }
  return (await stat(to)).size;
}

export class Recording {
  readonly id = newStreamId();
  /** Publishes it spans (the supervisor counts a return within the reconnect window). */
  sessions = 1;
  bytes = 0;
  segments = 0;
  startedAt: number | undefined;
  /** Why it stopped taking segments (a full disk); the live stream goes on. */
  stopped: string | undefined;
  private readonly playlists = new Map<string, ServedSegment[]>();
  private readonly kept = new Set<string>();
  private readonly dir: string;

  constructor(
    private readonly vodRoot: string,
    private readonly streamDir: string,
    readonly streamId: string,
  ) {
    this.dir = join(vodRoot, `.rec-${this.id}`);
  }

  private chain: Promise<unknown> = Promise.resolve();

  /**
   * Keeps `segs`, just taken by the served playlist at `servedPath` (relative to the stream
   * folder). Calls are applied one at a time, in order, however they are awaited.
   */
  add(servedPath: string, segs: readonly ServedSegment[]): Promise<void> {
    const next = this.chain.then(() => this.keepAll(servedPath, segs));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async keepAll(servedPath: string, segs: readonly ServedSegment[]): Promise<void> {
    if (this.stopped || segs.length === 0) return;
    let list = this.playlists.get(servedPath);
    if (!list) {
      list = [];
      this.playlists.set(servedPath, list);
    }
    const base = posix.dirname(servedPath);
    for (const s of segs) {
      for (const uri of s.map ? [s.map, s.uri] : [s.uri]) {
        const rel = posix.normalize(posix.join(base, uri));
        // Only what lies inside the stream folder (served URIs always do).
        if (rel.startsWith("..") || posix.isAbsolute(rel) || this.kept.has(rel)) continue;
        this.bytes += await keep(join(this.streamDir, rel), join(this.dir, rel));
        this.kept.add(rel);
      }
      list.push(s);
      this.startedAt ??= s.date ? Date.parse(s.date) || Date.now() : Date.now();
    }
  }

  get empty(): boolean {
    return this.playlists.size === 0;
  }

  /**
   * The session is over: the asset's playlists, master and report; the folder becomes
   * `vod/{id}/`. `master` is the live master playlist's text. Undefined when nothing was kept.
   */
  async finish(o: {
    master: string | undefined;
    nodeId: string;
    renditions: string[];
    playbackPolicy: "public" | "signed";
    endedAt?: number;
  }): Promise<AssetMeta | undefined> {
    await this.chain;
    if (this.empty) {
      await this.discard();
      return undefined;
    }
    for (const [path, segs] of this.playlists) {
      await mkdir(dirname(join(this.dir, path)), { recursive: true });
      await writeFile(join(this.dir, path), renderVodPlaylist(segs));
    }
    if (o.master) await writeFile(join(this.dir, "master.m3u8"), o.master);
    // DASH too, from the same segments (fMP4 only; undefined when it cannot be described).
    const mpd = await buildVodMpd(this.dir, this.playlists).catch(() => undefined);
    if (mpd) await writeFile(join(this.dir, "manifest.mpd"), mpd);
    const top = [...this.playlists.entries()].find(
      ([p]) => o.renditions[0] && p.startsWith(`${o.renditions[0]}/`),
    );
    const longest = top?.[1] ?? [...this.playlists.values()].sort((a, b) => b.length - a.length)[0] ?? [];
    const meta: AssetMeta = {
      id: this.id,
      streamId: this.streamId,
      nodeId: o.nodeId,
      startedAt: this.startedAt ?? Date.now(),
      endedAt: o.endedAt ?? Date.now(),
      durationSeconds: Math.round(longest.reduce((a, s) => a + s.duration, 0) * 1000) / 1000,
      renditions: o.renditions,
      segments: longest.length,
      bytes: this.bytes,
      sessions: this.sessions,
      playbackPolicy: o.playbackPolicy,
    };
    await writeFile(join(this.dir, ASSET_FILE), `${JSON.stringify(meta)}\n`);
    await rename(this.dir, join(this.vodRoot, this.id));
    return meta;
  }

  async discard(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
