/**
 * A static DASH manifest for a VOD asset (ADR 0095), from the same recorded segments as its HLS
 * playlists: one Period per encoder run (they start where a discontinuity is), a Representation
 * per playlist with its codec, size and rate read from its init segment, and a SegmentTemplate
 * whose `$Number$` follows the run's segment names, with a SegmentTimeline of the recorded
 * durations starting at the first segment's own decode time (presentationTimeOffset), so a
 * player places every segment where its samples are. Undefined when the asset cannot be
 * described so (MPEG-TS segments, names that do not count up, runs that differ by playlist).
 */
import { readFile, stat } from "node:fs/promises";
import { join, posix } from "node:path";
import { BoxSplitter } from "../packager/boxes.ts";
import { type InitInfo, parseFragment, parseInit, type TrackInfo } from "../packager/fragment.ts";
import type { ServedSegment } from "../supervisor/served.ts";

interface Rep {
  path: string;
  kind: "video" | "audio";
  track: TrackInfo;
  template: string;
  startNumber: number;
  init: string;
  pto: number;
  durations: number[];
  bandwidth: number;
}

const iso = (s: number) => `PT${s.toFixed(3)}S`;
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

/** Splits a playlist's segments where a new run starts. */
function runsOf(segs: readonly ServedSegment[]): ServedSegment[][] {
  const out: ServedSegment[][] = [];
  for (const s of segs) {
    if (out.length === 0 || s.discontinuity) out.push([]);
    out.at(-1)!.push(s);
  }
  return out;
}

/** `run-x/720p/seg-$Number$.m4s` from consecutive names; undefined when they do not count up by one. */
function templateOf(rels: string[]): { template: string; start: number } | undefined {
  const m = /^(.*?)(\d+)(\.m4s)$/.exec(rels[0] ?? "");
  if (!m) return undefined;
  const [, prefix, digits, suffix] = m as unknown as [string, string, string, string];
  const padded = digits.length > 1 && digits.startsWith("0");
  const start = Number(digits);
  const name = (n: number) => `${prefix}${padded ? String(n).padStart(digits.length, "0") : n}${suffix}`;
  if (!rels.every((r, i) => r === name(start + i))) return undefined;
  return { template: `${prefix}$Number${padded ? `%0${digits.length}d` : ""}$${suffix}`, start };
}

async function firstDecodeTime(file: string, init: InitInfo): Promise<number | undefined> {
  const split = new BoxSplitter();
  const moof = split.push(new Uint8Array(await readFile(file))).find((b) => b.type === "moof");
  if (!moof) return undefined;
  const f = parseFragment(moof.bytes, init);
  return f.tracks.find((t) => t.trackId === init.timingTrack)?.baseDecodeTime;
}

async function repOf(dir: string, path: string, segs: ServedSegment[]): Promise<Rep | undefined> {
  const base = posix.dirname(path);
  const first = segs[0];
  if (!first?.map) return undefined;
  const rels = segs.map((s) => posix.normalize(posix.join(base, s.uri)));
  const t = templateOf(rels);
  if (!t) return undefined;
  const init = posix.normalize(posix.join(base, first.map));
  const info = parseInit(new Uint8Array(await readFile(join(dir, init))));
  const track = info.tracks.find((x) => x.trackId === info.timingTrack);
  if (!track || (track.handler !== "vide" && track.handler !== "soun") || !track.codec) return undefined;
  const pto = await firstDecodeTime(join(dir, rels[0]!), info);
  if (pto === undefined) return undefined;
  let bytes = 0;
  for (const r of rels) bytes += (await stat(join(dir, r))).size;
  const seconds = segs.reduce((a, s) => a + s.duration, 0);
  return {
    path,
    kind: track.handler === "vide" ? "video" : "audio",
    track,
    template: t.template,
    startNumber: t.start,
    init,
    pto,
    durations: segs.map((s) => s.duration),
    bandwidth: Math.max(1, Math.round((bytes * 8) / Math.max(seconds, 0.001))),
  };
}

function timeline(r: Rep): string {
  const ts = r.track.timescale;
  const out: { t?: number; d: number; r: number }[] = [];
  let t = r.pto;
  let total = 0;
  for (const dur of r.durations) {
    // Each end rounded on the whole timeline: no drift however long the asset.
    total += dur;
    const end = r.pto + Math.round(total * ts);
    const d = end - t;
    const last = out.at(-1);
    if (last && last.d === d) last.r++;
    else out.push({ ...(out.length === 0 ? { t } : {}), d, r: 0 });
    t = end;
  }
  return out
    .map((e) => `<S${e.t !== undefined ? ` t="${e.t}"` : ""} d="${e.d}"${e.r > 0 ? ` r="${e.r}"` : ""}/>`)
    .join("");
}

function representation(r: Rep): string {
  const common = `id="${esc(r.path.replace(/\/index\.m3u8$|\.m3u8$/, ""))}" bandwidth="${r.bandwidth}" codecs="${esc(r.track.codec ?? "")}"`;
  const attrs =
    r.kind === "video"
      ? `${common} width="${r.track.width ?? 0}" height="${r.track.height ?? 0}"`
      : `${common} audioSamplingRate="${r.track.sampleRate ?? 48000}"`;
  const channels =
    r.kind === "audio"
      ? `<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="${r.track.channels ?? 2}"/>`
      : "";
  return (
    `<Representation ${attrs}>${channels}` +
    `<SegmentTemplate timescale="${r.track.timescale}" presentationTimeOffset="${r.pto}" startNumber="${r.startNumber}" initialization="${esc(r.init)}" media="${esc(r.template)}">` +
    `<SegmentTimeline>${timeline(r)}</SegmentTimeline></SegmentTemplate></Representation>`
  );
}

/** `playlists`: the asset's media playlists (relative to `dir`) and their segments, video first. */
export async function buildVodMpd(
  dir: string,
  playlists: ReadonlyMap<string, readonly ServedSegment[]>,
): Promise<string | undefined> {
  const split = [...playlists].map(([path, segs]) => ({ path, runs: runsOf(segs) }));
  const count = split[0]?.runs.length ?? 0;
  if (count === 0 || split.some((p) => p.runs.length !== count)) return undefined;
  const periods: string[] = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    const reps: Rep[] = [];
    for (const p of split) {
      const r = await repOf(dir, p.path, p.runs[i]!);
      if (!r) return undefined;
      reps.push(r);
    }
    const video = reps.filter((r) => r.kind === "video");
    const ref = video[0] ?? reps[0]!;
    const duration = ref.durations.reduce((a, b) => a + b, 0);
    const sets = [
      video.length
        ? `<AdaptationSet contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">${video.map(representation).join("")}</AdaptationSet>`
        : "",
      ...reps
        .filter((r) => r.kind === "audio")
        .map(
          (r) =>
            `<AdaptationSet contentType="audio" mimeType="audio/mp4" segmentAlignment="true" startWithSAP="1">${representation(r)}</AdaptationSet>`,
        ),
    ].join("");
    periods.push(`<Period id="${i}" start="${iso(start)}" duration="${iso(duration)}">${sets}</Period>`);
    start += duration;
  }
  return (
    `<?xml version="1.0" encoding="utf-8"?>\n` +
    `<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" mediaPresentationDuration="${iso(start)}" minBufferTime="PT2S">\n` +
    `${periods.join("\n")}\n</MPD>\n`
  );
}
