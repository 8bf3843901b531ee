/**
 * `GET/HEAD /live/{id}/thumbnail.jpg[?width=W][&height=H]` (ADR 0093): the latest frame the
 * stream's transcoder wrote (transcoder/thumbnail.ts), as written or resized by a short-lived
 * ffmpeg. Resizes are bounded (a few at a time, else 503 with Retry-After) and kept in memory per
 * (stream, size, source file version), so a CDN miss storm costs one ffmpeg per size per frame.
 */
import { type Dirent, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { sep } from "node:path";
import { execa } from "execa";
import type { HttpCounters } from "../metrics/index.ts";
import { DEFAULT_THUMBNAIL_INTERVAL_SEC, THUMBNAIL_FILE } from "../transcoder/thumbnail.ts";
import type { LiveBytes, LiveFiles } from "./live-file.ts";
import { frameAt, parseTime } from "./vod-frame.ts";

export const THUMBNAIL_MIN_SIDE = 16;
export const THUMBNAIL_MAX_SIDE = 1920;
/** A frame is a few tens of KB; anything far larger is not one of ours. */
const MAX_SOURCE_BYTES = 8 << 20;

export type ThumbnailSize = { width?: number; height?: number };
export type ThumbnailQuery = { ok: true; size: ThumbnailSize } | { ok: false; reason: string };

const SIDE = /^[1-9][0-9]{0,3}$/;

/**
 * `width`/`height` from a query string (with or without its `?`); other parameters (`token`) are
 * not ours and pass. Each at most once, a plain integer in 16..1920 (pure).
 */
export function parseThumbnailQuery(search: string): ThumbnailQuery {
  const q = new URLSearchParams(search);
  const size: ThumbnailSize = {};
  for (const key of ["width", "height"] as const) {
    const all = q.getAll(key);
    if (all.length === 0) continue;
    if (all.length > 1) return { ok: false, reason: `${key} given more than once` };
    const raw = all[0]!;
    const n = SIDE.test(raw) ? Number(raw) : Number.NaN;
    if (!(n >= THUMBNAIL_MIN_SIDE && n <= THUMBNAIL_MAX_SIDE))
      return {
        ok: false,
        reason: `${key} must be an integer from ${THUMBNAIL_MIN_SIDE} to ${THUMBNAIL_MAX_SIDE}, got ${JSON.stringify(raw)}`,
      };
    size[key] = n;
  }
  return { ok: true, size };
}

/** One side given: the other follows the aspect (even, as 4:2:0 wants); both: exactly that. */
export function scaleFilter(s: ThumbnailSize): string {
  return `scale=${s.width ?? -2}:${s.height ?? -2}`;
}

export interface ThumbnailServerOptions {
  /** `{dataDir}/live`, resolved. */
  liveRoot: string;
  files: LiveFiles;
  cors: Record<string, string>;
  counters: HttpCounters;
  /** What the transcoders were told (the file changes this often): the `max-age`. */
  intervalSec?: number;
  /** Resizes running at once; one more is refused with 503. */
  maxResizes?: number;
  /** Resized JPEGs kept (oldest dropped first). */
  cacheEntries?: number;
  ffmpegBin?: string;
  /** `{dataDir}/vod`, resolved: VOD assets' frames (absent: none). */
  vodRoot?: string;
  /** A resize that takes longer is killed (500). */
  resizeTimeoutMs?: number;
}

export interface ThumbnailServer {
  /** `id` was checked by the caller's path rule; `search` is the raw query (with its `?`, or ""). */
  serve(req: Request, id: string, search: string): Response | Promise<Response>;
  /** A VOD asset's frame at `?time=` (ADR 0095). */
  serveVod(req: Request, assetId: string, search: string): Promise<Response>;
}

/** A VOD asset's frame never changes; an hour, so that a deleted asset's frames go too. */
export const VOD_THUMBNAIL_CACHE = "public, max-age=3600";

/** Whether `rest` (the path after /live/) names a stream's thumbnail; its stream id, if so. */
export function thumbnailStreamId(rest: string): string | undefined {
  const slash = rest.indexOf("/");
  if (slash <= 0 || rest.slice(slash + 1) !== THUMBNAIL_FILE) return undefined;
  const id = rest.slice(0, slash);
  return /^[A-Za-z0-9_-]{1,128}$/.test(id) ? id : undefined;
}

export function createThumbnailServer(o: ThumbnailServerOptions): ThumbnailServer {
  const interval = o.intervalSec ?? DEFAULT_THUMBNAIL_INTERVAL_SEC;
  const maxResizes = o.maxResizes ?? 2;
  const cacheEntries = o.cacheEntries ?? 256;
  const counters = o.counters.thumbnails;
  const base = {
    ...o.cors,
    "Content-Type": "image/jpeg",
    "Cache-Control": `public, max-age=${interval}`,
  };
  /**
   * Resized JPEGs by `${id} ${w}x${h}`, each of one source version (a newer frame replaces it, so
   * there is one entry per stream and size); Map order is insertion order: oldest first.
   */
  const cache = new Map<string, { version: string; body: Uint8Array<ArrayBuffer> }>();
  const inFlight = new Map<string, Promise<Uint8Array<ArrayBuffer>>>();
  let running = 0;

  const json = (status: number, code: string, reason: string, extra: Record<string, string> = {}) =>
    new Response(JSON.stringify({ error: { code, message: reason } }), {
      status,
      headers: {
        ...o.cors,
        "Content-Type": "application/json; charset=utf-8",
        "Cache-Control": "no-store",
        ...extra,
      },
    });

  /**
   * The newest thumbnail of the stream: the supervisor runs each transcoder in a folder of its own
   * below the stream's (a restart is a new folder), so it is whichever folder's file was written
   * last; the stream folder itself counts too (a job written straight into it). Read whole from
   * one open file: an atomic rename by the encoder mid-request cannot mix two frames.
   */
  function newest(id: string): LiveBytes | "no-stream" | undefined {
    const dir = `${o.liveRoot}${sep}${id}`;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return "no-stream";
    }
    let best: { path: string; mtimeMs: number } | undefined;
    const consider = (path: string) => {
      const st = o.files.find(path);
      if (st && (!best || st.mtimeMs > best.mtimeMs)) best = { path, mtimeMs: st.mtimeMs };
    };
    consider(`${dir}${sep}${THUMBNAIL_FILE}`);
    for (const e of entries) if (e.isDirectory()) consider(`${dir}${sep}${e.name}${sep}${THUMBNAIL_FILE}`);
    return best ? o.files.read(best.path, MAX_SOURCE_BYTES) : undefined;
  }

  /** One JPEG from `src` (a JPEG to resize, or a VOD segment to decode from `seek` s on). */
  async function resize(
    src: Uint8Array,
    size: ThumbnailSize,
    input: { format: string; codec?: string; seek?: number } = { format: "image2pipe", codec: "mjpeg" },
  ): Promise<Uint8Array<ArrayBuffer>> {
    const scale = size.width !== undefined || size.height !== undefined ? `${scaleFilter(size)},` : "";
    const r = await execa(
      o.ffmpegBin ?? "ffmpeg",
      [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-f",
        input.format,
        ...(input.codec ? ["-c:v", input.codec] : []),
        "-i",
        "pipe:0",
        // After the input: decoded up to the frame at that time (one segment at most).
        ...(input.seek ? ["-ss", input.seek.toFixed(3)] : []),
        "-vf",
        `${scale}format=yuvj420p`,
        "-frames:v",
        "1",
        "-c:v",
        "mjpeg",
        "-q:v",
        "4",
        "-f",
        "image2pipe",
        "pipe:1",
      ],
      {
        input: src,
        encoding: "buffer",
        reject: false,
        timeout: o.resizeTimeoutMs ?? 5000,
        stderr: "pipe",
      },
    );
    if (r.exitCode !== 0 || r.stdout.length === 0)
      throw new Error(`thumbnail resize failed (${r.exitCode ?? r.signal}): ${String(r.stderr).slice(-300)}`);
    counters.resized++;
    return new Uint8Array(r.stdout);
  }

  function answer(
    req: Request,
    body: Uint8Array<ArrayBuffer>,
    etag: string,
    mtimeMs: number,
    cacheControl = base["Cache-Control"],
  ): Response {
    const headers: Record<string, string> = {
      ...base,
      "Cache-Control": cacheControl,
      ETag: etag,
      "Last-Modified": new Date(mtimeMs).toUTCString(),
    };
    if (req.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers });
    counters.served++;
    if (req.method === "HEAD") {
      headers["Content-Length"] = String(body.length);
      return new Response(null, { status: 200, headers });
    }
    return new Response(body, { status: 200, headers });
  }

  /** Runs `make` unless as many are running as allowed (then 503); one run per `job` at a time. */
  function limited(
    job: string,
    make: () => Promise<Uint8Array<ArrayBuffer>>,
  ): Promise<Uint8Array<ArrayBuffer>> | Response {
    let pending = inFlight.get(job);
    if (!pending) {
      if (running >= maxResizes) {
        counters.busy++;
        return json(503, "busy", "thumbnail resizes are all busy: retry in a second", { "Retry-After": "1" });
      }
      running++;
      pending = make().finally(() => {
        running--;
        inFlight.delete(job);
      });
      inFlight.set(job, pending);
    }
    return pending;
  }

  const remember = (key: string, version: string, body: Uint8Array<ArrayBuffer>) => {
    // Re-inserted at the end: the least recently made entry is the one dropped.
    cache.delete(key);
    if (cache.size >= cacheEntries) cache.delete(cache.keys().next().value as string);
    cache.set(key, { version, body });
  };

  return {
    /**
     * `/vod/{assetId}/thumbnail.jpg?time=&width=&height=` (ADR 0095): the frame at `time` (s,
     * default 0) of the asset's top rendition, decoded from the one segment that holds it. An
     * asset never changes, so neither does its frame: cached, and cacheable for an hour.
     */
    async serveVod(req, id, search) {
      const q = parseThumbnailQuery(search);
      if (!q.ok) return json(400, "bad_query", q.reason);
      const t = parseTime(search);
      if (!t.ok) return json(400, "bad_query", t.reason);
      if (!o.vodRoot || !/^[A-Za-z0-9_-]{1,128}$/.test(id))
        return json(404, "not_found", `asset ${id} is not on this node`);
      const dims = `${q.size.width ?? "a"}x${q.size.height ?? "a"}`;
      const key = `vod ${id} ${t.time} ${dims}`;
      const etag = `"${id}-${t.time}-${dims}"`;
      const hit = cache.get(key);
      if (hit) return answer(req, hit.body, etag, 0, VOD_THUMBNAIL_CACHE);
      const at = await frameAt(`${o.vodRoot}${sep}${id}`, t.time);
      if (!at.ok) return json(at.status, at.status === 404 ? "not_found" : "bad_query", at.reason);
      const pending = limited(key, async () => {
        const bytes = Buffer.concat(await Promise.all(at.files.map((f) => readFile(f))));
        return resize(bytes, q.size, { format: at.container, seek: at.offset });
      });
      if (pending instanceof Response) return pending;
      const body = await pending;
      remember(key, "vod", body);
      return answer(req, body, etag, 0, VOD_THUMBNAIL_CACHE);
    },

    serve(req, id, search) {
      const q = parseThumbnailQuery(search);
      if (!q.ok) return json(400, "bad_query", q.reason);
      const src = newest(id);
      if (src === "no-stream") return json(404, "not_live", `stream ${id} is not live on this node`);
      if (!src)
        return json(
          404,
          "no_thumbnail",
          `no thumbnail for stream ${id} yet: the first is written within ${interval} s of the start; audio-only and passthrough (codec copy) streams, and the gpac back end, have none (ADR 0093)`,
        );
      // mtime and size name the frame (each one is a new file, renamed into place).
      const version = `${Math.round(src.mtimeMs).toString(36)}-${src.size.toString(36)}`;
      const { width, height } = q.size;
      if (width === undefined && height === undefined)
        return answer(req, src.body, `"${version}"`, src.mtimeMs);
      const dims = `${width ?? "a"}x${height ?? "a"}`;
      const etag = `"${version}-${dims}"`;
      const key = `${id} ${dims}`;
      const hit = cache.get(key);
      if (hit?.version === version) return answer(req, hit.body, etag, src.mtimeMs);
      const pending = limited(`${key} ${version}`, () => resize(src.body, q.size));
      if (pending instanceof Response) return pending;
      return pending.then((body) => {
        remember(key, version, body);
        return answer(req, body, etag, src.mtimeMs);
      });
    },
  };
}
