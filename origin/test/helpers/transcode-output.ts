/**
 * Reading what a transcoder back end wrote, for the behaviour suite: media playlists (resolved to
 * files), and ffprobe of a rendition as its init segment followed by its media segments (an fMP4
 * segment alone has no moov, so it is never probed without its init).
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { parseMediaPlaylist } from "../../src/supervisor/playlist.ts";

export interface Rendition {
  /** Media playlist path. */
  playlist: string;
  /** Init segment (fMP4), absolute. */
  init?: string;
  /** Media segments in playlist order, absolute. */
  segments: string[];
  durations: number[];
  targetDuration?: number;
}

export function readRendition(outDir: string, playlist: string): Rendition {
  const path = join(outDir, playlist);
  const text = readFileSync(path, "utf8");
  const info = parseMediaPlaylist(text);
  const base = dirname(path);
  const target = /#EXT-X-TARGETDURATION:(\d+)/.exec(text)?.[1];
  return {
    playlist: path,
    init: info.mapUri ? join(base, info.mapUri) : undefined,
    segments: info.segments.map((s) => join(base, s)),
    durations: info.durations,
    targetDuration: target ? Number(target) : undefined,
  };
}

import type { ProbedStream } from "./ffprobe.ts";

export type { ProbedStream };

export interface ProbedPacket {
  pts: number;
  dts: number;
  duration: number;
  size: number;
  key: boolean;
}

export interface Probed {
  streams: ProbedStream[];
  /** Packets of the first stream, in file order. */
  packets: ProbedPacket[];
}

const num = (v: string | undefined) => (v === undefined || v === "N/A" ? Number.NaN : Number(v));

/** ffprobe of `files` read as one stream (`concat:` protocol): streams and first-stream packets. */
export async function probeFiles(files: string[]): Promise<Probed> {
  const target = files.length === 1 ? files[0]! : `concat:${files.join("|")}`;
  const r = await execa(
    "ffprobe",
    [
      "-v",
      "error",
      "-show_streams",
      "-select_streams",
      "0",
      "-show_entries",
      "packet=pts_time,dts_time,duration_time,size,flags",
      "-of",
      "json",
      target,
    ],
    { reject: false, timeout: 30_000 },
  );
  if (r.exitCode !== 0) throw new Error(`ffprobe ${target}: ${r.stderr}`);
  const j = JSON.parse(String(r.stdout)) as {
    streams?: ProbedStream[];
    packets?: {
      pts_time?: string;
      dts_time?: string;
      duration_time?: string;
      size?: string;
      flags?: string;
    }[];
  };
  return {
    streams: j.streams ?? [],
    packets: (j.packets ?? []).map((p) => ({
      pts: num(p.pts_time),
      dts: num(p.dts_time),
      duration: num(p.duration_time),
      size: num(p.size),
      key: (p.flags ?? "").includes("K"),
    })),
  };
}

/** Every stream in a file or URL (all of them, no packets): for manifests and TS segments. */
export async function probeStreams(target: string, extra: string[] = []): Promise<ProbedStream[]> {
  const r = await execa("ffprobe", ["-v", "error", ...extra, "-show_streams", "-of", "json", target], {
    reject: false,
    timeout: 30_000,
  });
  if (r.exitCode !== 0) throw new Error(`ffprobe ${target}: ${r.stderr}`);
  return (JSON.parse(String(r.stdout)) as { streams?: ProbedStream[] }).streams ?? [];
}

/** The probe of a rendition: init (when fMP4) + every listed segment. */
export function probeRendition(r: Rendition): Promise<Probed> {
  return probeFiles([...(r.init ? [r.init] : []), ...r.segments]);
}

/** Average bit rate of a stream from its packets: bytes over the span of their timestamps. */
export function bitrateKbps(packets: ProbedPacket[]): number {
  if (packets.length < 2) return Number.NaN;
  const bytes = packets.reduce((a, p) => a + p.size, 0);
  const last = packets[packets.length - 1]!;
  const span = last.pts + (Number.isFinite(last.duration) ? last.duration : 0) - packets[0]!.pts;
  return (bytes * 8) / span / 1000;
}
