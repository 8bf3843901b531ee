/**
 * The measuring pieces of the glass bench, the same for our platform and the peer: the stamped
 * publisher, publish → playable, the stamp read back from one segment of every rung, and what a
 * viewer saw, summed up.
 */
import { type Publisher, runFfmpeg } from "../../shared/src/testkit/index.ts";
import { get, playlistUris } from "../lib/hls.ts";
import { median, percentile } from "../lib/stats.ts";
import { BAND, CANVAS_H, CANVAS_W, decodeRgba, stampFilter, unwrap } from "./stamp.ts";
import type { ViewerOut } from "./viewer.ts";

export const PUB = { size: "1280x720", rate: 30 };

/** testsrc2 at 720p30 with a tone, paced (-re), the wall clock stamped into every frame, 1 s GOP. */
export function startPublisher(url: string): Publisher {
  return runFfmpeg([
    ...["-hide_banner", "-loglevel", "error", "-nostdin", "-re"],
    ...["-f", "lavfi", "-i", `testsrc2=size=${PUB.size}:rate=${PUB.rate}`],
    ...["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"],
    ...["-vf", stampFilter(PUB.rate), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency"],
    ...["-g", String(PUB.rate), "-pix_fmt", "yuv420p", "-b:v", "4000k", "-c:a", "aac", "-b:a", "128k"],
    ...["-f", "flv", url],
  ]);
}

/** Variant playlists of a master: absolute URL and height. */
export function variants(masterUrl: string, text: string): { url: string; height: number }[] {
  const lines = text.split("\n").map((l) => l.trim());
  const out: { url: string; height: number }[] = [];
  lines.forEach((l, i) => {
    if (!l.startsWith("#EXT-X-STREAM-INF")) return;
    const uri = lines.slice(i + 1).find((x) => x && !x.startsWith("#"));
    const h = Number(/RESOLUTION=\d+x(\d+)/.exec(l)?.[1] ?? 0);
    if (uri) out.push({ url: new URL(uri, masterUrl).href, height: h });
  });
  return out;
}

const ok = async (url: string) => {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await r.arrayBuffer();
    return r.ok;
  } catch {
    return false;
  }
};

/** ms from `t0` to the master playlist, and to a first segment of its first variant, both 200. */
export async function waitPlayable(masterUrl: string, t0: number, timeoutMs = 60_000) {
  let master = 0;
  while (Date.now() - t0 < timeoutMs) {
    const m = await get(masterUrl);
    if (m.status === 200) {
      if (!master) master = Date.now() - t0;
      const v = variants(masterUrl, m.text)[0];
      const media = v ? await get(v.url) : undefined;
      const seg = media?.status === 200 ? playlistUris(media.text).lines[0] : undefined;
      if (v && seg && (await ok(new URL(seg, v.url).href))) return { master, segment: Date.now() - t0 };
    }
    await Bun.sleep(50);
  }
  throw new Error(`${masterUrl} not playable within ${timeoutMs} ms`);
}

async function bytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** The stamp read by ffmpeg from the newest complete segment of each rung: frames read / frames. */
export async function checkRungs(
  masterUrl: string,
): Promise<{ height: number; ok: number; total: number; extinf: number }[]> {
  const master = await get(masterUrl);
  const out: { height: number; ok: number; total: number; extinf: number }[] = [];
  for (const v of variants(masterUrl, master.text)) {
    const media = await get(v.url);
    const map = /#EXT-X-MAP:URI="([^"]+)"/.exec(media.text)?.[1];
    const seg = playlistUris(media.text).lines.at(-1);
    if (!seg) {
      out.push({ height: v.height, ok: 0, total: 0, extinf: 0 });
      continue;
    }
    const parts = [
      ...(map ? [await bytes(new URL(map, v.url).href)] : []),
      await bytes(new URL(seg, v.url).href),
    ];
    const frames = readBand(Buffer.concat(parts));
    const good = frames.filter((px) => decodeRgba(px, CANVAS_W, CANVAS_H) !== undefined).length;
    const total = frames.length;
    const extinf = Number([...media.text.matchAll(/#EXTINF:([\d.]+)/g)].at(-1)?.[1] ?? 0);
    out.push({ height: v.height, ok: good, total, extinf });
  }
  return out;
}

/**
 * How far the newest segment of the first rung is behind the wall clock: now minus the stamp of
 * its last frame (ms), or NaN. The server's share of glass-to-glass; if it grows, the transcoder
 * is slower than real time.
 */
export async function segmentLag(masterUrl: string): Promise<number> {
  try {
    const master = await get(masterUrl);
    const v = variants(masterUrl, master.text)[0];
    if (!v) return Number.NaN;
    const media = await get(v.url);
    const map = /#EXT-X-MAP:URI="([^"]+)"/.exec(media.text)?.[1];
    const seg = playlistUris(media.text).lines.at(-1);
    if (!seg) return Number.NaN;
    const now = Date.now();
    const parts = [
      ...(map ? [await bytes(new URL(map, v.url).href)] : []),
      await bytes(new URL(seg, v.url).href),
    ];
    let newest = Number.NaN;
    for (const px of readBand(Buffer.concat(parts))) {
      const s = decodeRgba(px, CANVAS_W, CANVAS_H);
      if (s !== undefined) newest = unwrap(s, now);
    }
    return now - newest;
  } catch {
    return Number.NaN;
  }
}

/** The stamp band of every frame of a media file, as RGBA at CANVAS_W×CANVAS_H. */
function readBand(media: Buffer): Uint8Array[] {
  const d = Bun.spawnSync(
    [
      ...["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", "pipe:0"],
      ...[
        "-vf",
        `crop=iw:ih*${BAND}:0:0,scale=${CANVAS_W}:${CANVAS_H}`,
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgba",
        "pipe:1",
      ],
    ],
    { stdin: media, stdout: "pipe", stderr: "pipe" },
  );
  const size = CANVAS_W * CANVAS_H * 4;
  const out: Uint8Array[] = [];
  for (let o = 0; o + size <= d.stdout.length; o += size) out.push(d.stdout.subarray(o, o + size));
  return out;
}

export interface ViewSummary {
  frames: number;
  p50: number;
  p95: number;
  /** Share of displayed frames whose stamp did not decode. */
  undecoded: number;
  /** Heights played: "360 0–4.1 s, 720 4.1–60 s" (seconds after the first frame). */
  timeline: string;
  /** Seconds from the first frame to the first frame at the top rung, if ever. */
  topAt?: number;
  topHeight: number;
  stalls: number;
  stalledMs: number;
  /**
   * Latency trend, ms per second of playback: the median of the last fifth minus that of the
   * first fifth, over the time between them. Well above 0: the pipeline falls behind real time.
   */
  drift: number;
  reqPerS: number;
  /** Of which playlist / manifest requests. */
  manifestPerS: number;
  errors: string[];
  /** Page open → first decoded frame. */
  firstFrameMs: number;
  info: Record<string, unknown>;
  error?: string;
}

function trend(frames: [number, number, number][]): number {
  const n = Math.floor(frames.length / 5);
  if (n < 2) return Number.NaN;
  const head = frames.slice(0, n);
  const tail = frames.slice(-n);
  const at = (xs: [number, number, number][]) => median(xs.map((f) => f[0]));
  const lat = (xs: [number, number, number][]) => median(xs.map((f) => f[1]));
  return (lat(tail) - lat(head)) / ((at(tail) - at(head)) / 1000);
}

export function summarize(v: ViewerOut, topHeight: number): ViewSummary {
  const p = v.page;
  const frames = p?.frames ?? [];
  const lat = frames.map((f) => f[1]);
  const first = p?.firstFrameAt ?? 0;
  const spans: [number, number, number][] = [];
  for (const [at, , h] of frames) {
    const last = spans.at(-1);
    if (last && last[0] === h) last[2] = at;
    else spans.push([h, at, at]);
  }
  const rel = (t: number) => ((t - first) / 1000).toFixed(1);
  const timeline = spans.map(([h, a, b]) => `${h} ${rel(a)}–${rel(b)} s`).join(", ");
  const top = frames.find((f) => f[2] >= topHeight);
  const undecoded = Object.values(p?.undecoded ?? {}).reduce((a, b) => a + b, 0);
  const errs = new Map<string, number>();
  for (const e of p?.errors ?? []) errs.set(e, (errs.get(e) ?? 0) + 1);
  const secs = Math.max(1, (v.windowTo - v.windowFrom) / 1000);
  return {
    frames: frames.length,
    p50: percentile(lat, 50),
    p95: percentile(lat, 95),
    undecoded: undecoded / Math.max(1, undecoded + frames.length),
    timeline,
    topAt: top ? Math.max(0, top[0] - first) / 1000 : undefined,
    topHeight,
    drift: trend(frames),
    stalls: p?.stalls.length ?? 0,
    stalledMs: (p?.stalls ?? []).reduce((a, s) => a + s[1], 0),
    reqPerS: v.requests.length / secs,
    manifestPerS: v.requests.filter(([, u]) => /\.(m3u8|mpd)(\?|$)/.test(u)).length / secs,
    errors: [...errs].map(([e, n]) => (n > 1 ? `${e} ×${n}` : e)),
    firstFrameMs: first ? first - v.opened : Number.NaN,
    info: p?.info ?? {},
    ...(v.error ? { error: v.error.split("\n")[0] as string } : {}),
  };
}
