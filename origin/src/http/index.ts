/**
 * The origin's HTTP server (Bun.serve + Bun.file): `/live/{id}/...` to the CDN with the right
 * cache headers and content types, CORS, HEAD and Range; `/health`; `/metrics`; `/time` (the
 * clock DASH players synchronise to); `/live/{id}/thumbnail.jpg`, the latest frame (thumbnail.ts).
 * The /live path is synchronous and allocation-light (ADR 0026): lexical path check, one lstat,
 * precomputed headers, plain-number counters.
 */

import { resolve } from "node:path";
import type { Logger } from "@dionysia/shared";
import { TIME_PATH, timeResponse } from "@dionysia/shared";
import type { OriginMetrics } from "../metrics/index.ts";
import { type LiveBytes, liveFiles } from "./live-file.ts";
import { answerLowLatency, type LowLatencySource } from "./low-latency.ts";
import { CONTENT_TYPES, isManifest, parseRange, resolveLivePath } from "./paths.ts";
import { type PlaybackGuard, serveSigned } from "./signed.ts";
import { createThumbnailServer, type ThumbnailServerOptions, thumbnailStreamId } from "./thumbnail.ts";

export type RouteHandler = (req: Request) => Response | Promise<Response>;

export interface OriginHttpOptions {
  dataDir: string;
  logger: Logger;
  metrics: OriginMetrics;
  hostname?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Exact-path routes mounted before /live (e.g. `/internal/mediamtx/auth`). */
  extraRoutes?: Record<string, RouteHandler>;
  /** Extra fields for /health (e.g. node id, active streams). */
  health?: () => Record<string, unknown>;
  /** Signed playback (ADR 0060): which streams need a token, and the keys to check it. */
  playback?: PlaybackGuard;
  /** Low-latency streams' packagers (the supervisor): playlists from memory, blocking reloads. */
  lowLatency?: LowLatencySource;
  /** Live thumbnails (ADR 0093): the interval the transcoders use (max-age), resize limits. */
  thumbnails?: Pick<ThumbnailServerOptions, "intervalSec" | "maxResizes" | "cacheEntries" | "ffmpegBin">;
}

export interface OriginHttp {
  port: number;
  url: string;
  stop(): Promise<void>;
}

const CORS: Record<string, string> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
  "Access-Control-Allow-Headers": "Range, If-None-Match, If-Modified-Since, Origin, Accept",
  "Access-Control-Expose-Headers": "Content-Length, Content-Range, Accept-Ranges, ETag, Age",
  "Access-Control-Max-Age": "86400",
};

export const PLAYLIST_CACHE = "public, max-age=1";
export const SEGMENT_CACHE = "public, max-age=31536000, immutable";

/** A VOD asset's playlists never change; short enough that a deleted asset goes soon (ADR 0095). */
export const VOD_PLAYLIST_CACHE = "public, max-age=300";

/** Per extension, the headers every response of that type carries (built once). */
const headersByExt = (playlistCache: string): Record<string, Record<string, string>> =>
  Object.fromEntries(
    Object.entries(CONTENT_TYPES).map(([ext, type]) => [
      ext,
      {
        ...CORS,
        "Content-Type": type,
        "Cache-Control": isManifest(ext) ? playlistCache : SEGMENT_CACHE,
        "Accept-Ranges": "bytes",
      },
    ]),
  );
const LIVE_HEADERS = headersByExt(PLAYLIST_CACHE);
const VOD_HEADERS = headersByExt(VOD_PLAYLIST_CACHE);

function text(status: number, body: string, extra: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", ...CORS, ...extra },
  });
}

/** Larger manifests go out as files (a live HLS/DASH manifest is a few KB). */
const MAX_MANIFEST_BYTES = 1 << 20;

const notFound = () => text(404, "not found\n");

/** HTTP dates have one-second resolution: the last one formatted is reused (playlists, bursts). */
let lastSecond = -1;
let lastHttpDate = "";
function httpDate(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s !== lastSecond) {
    lastHttpDate = new Date(s * 1000).toUTCString();
    lastSecond = s;
  }
  return lastHttpDate;
}

/** The query with its `?` ("" when none), as sent. */
function rawQuery(url: string): string {
  const q = url.indexOf("?");
  if (q < 0) return "";
  const hash = url.indexOf("#", q);
  return hash < 0 ? url.slice(q) : url.slice(q, hash);
}

/** The path without scheme, host and query, as sent (undecoded). */
function rawPath(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const q = url.indexOf("?", start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}

export function createOriginHttp(o: OriginHttpOptions): OriginHttp {
  // Fixed for the life of the server: the root is resolved once, not per request.
  const liveRoot = resolve(o.dataDir, "live");
  const vodRoot = resolve(o.dataDir, "vod");
  const live = { root: liveRoot, files: liveFiles(liveRoot), headers: LIVE_HEADERS };
  const vod = { root: vodRoot, files: liveFiles(vodRoot), headers: VOD_HEADERS };
  const m = o.metrics;
  const counters = m.http;
  const requests = counters.requests;
  const thumbnails = createThumbnailServer({
    ...o.thumbnails,
    liveRoot,
    vodRoot,
    files: live.files,
    cors: CORS,
    counters,
  });

  /** `wholeManifest`: a signed manifest is rewritten, so a Range on it is ignored (ADR 0060). */
  function serveLive(req: Request, rest: string, wholeManifest = false, tree = live): Response {
    const { files } = tree;
    const r = resolveLivePath(tree.root, rest);
    if (!r.ok) return r.status === 400 ? text(400, "bad path\n") : notFound();
    const base = tree.headers[r.ext];
    if (!base) return notFound();
    const manifest = isManifest(r.ext);
    // Manifests are small and rewritten every segment: read whole, they go out from memory (one
    // consistent snapshot, and far cheaper in Bun than a file body). Media goes out as a file.
    const st = (manifest && files.read(r.path, MAX_MANIFEST_BYTES)) || files.find(r.path);
    if (!st) return notFound();
    const size = st.size;
    const head = req.method === "HEAD";
    const rangeHeader = wholeManifest && manifest ? null : req.headers.get("range");
    const headers: Record<string, string> = { ...base, "Last-Modified": httpDate(st.mtimeMs) };
    const range = rangeHeader === null ? undefined : parseRange(rangeHeader, size);
    if (range === null) return text(416, "range not satisfiable\n", { "Content-Range": `bytes */${size}` });
    let start = 0;
    let len = size;
    let status = 200;
    if (range) {
      start = range.start;
      len = range.end - range.start + 1;
      status = 206;
      headers["Content-Range"] = `bytes ${range.start}-${range.end}/${size}`;
    }
    if (head) {
      headers["Content-Length"] = String(len);
      return new Response(null, { status, headers });
    }
    if (manifest) counters.bytes.manifest += len;
    else counters.bytes.segment += len;
    // Bun sets Content-Length from the body.
    const bytes = (st as Partial<LiveBytes>).body;
    if (bytes) return new Response(range ? bytes.subarray(start, start + len) : bytes, { status, headers });
    const file = Bun.file(r.path);
    return new Response(range ? file.slice(start, start + len) : file, { status, headers });
  }

  /** A low-latency stream's playlists and preload hints (low-latency.ts); undefined: a file. */
  function serveLowLatency(req: Request, rest: string, signed: boolean): Promise<Response> | undefined {
    if (!o.lowLatency) return undefined;
    const answer = answerLowLatency(o.lowLatency, req, rest, CORS);
    if (!answer) return undefined;
    return answer.then((r) => (r instanceof Response ? r : serveLive(req, rest, signed)));
  }

  function handle(req: Request): Response | Promise<Response> {
    const raw = rawPath(req.url);
    const extra = o.extraRoutes?.[raw];
    if (extra) return extra(req);
    if (raw.startsWith("/vod/")) {
      // Recordings (ADR 0095): files as under /live, from vod/{assetId}/, never growing.
      if (req.method === "GET" || req.method === "HEAD") {
        const rest = raw.slice("/vod/".length);
        const slash = rest.indexOf("/");
        const id = o.playback && slash > 0 ? rest.slice(0, slash) : "";
        const thumb = thumbnailStreamId(rest);
        const serve = thumb
          ? () => thumbnails.serveVod(req, thumb, rawQuery(req.url))
          : () => serveLive(req, rest, o.playback?.isSigned(id) ?? false, vod);
        if (o.playback?.isSigned(id)) return serveSigned(o.playback, req, id, CORS, serve);
        return serve();
      }
      if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS });
      return text(405, "method not allowed\n", { Allow: "GET, HEAD, OPTIONS" });
    }
    if (raw.startsWith("/live/")) {
      if (req.method === "GET" || req.method === "HEAD") {
        const rest = raw.slice("/live/".length);
        // Signed playback (ADR 0060): a signed stream's files need a token.
        const slash = rest.indexOf("/");
        const id = o.playback && slash > 0 ? rest.slice(0, slash) : "";
        const signed = o.playback?.isSigned(id) ?? false;
        const thumb = thumbnailStreamId(rest);
        const serve = thumb
          ? () => thumbnails.serve(req, thumb, rawQuery(req.url))
          : () => serveLowLatency(req, rest, signed) ?? serveLive(req, rest, signed);
        if (o.playback && signed) return serveSigned(o.playback, req, id, CORS, serve);
        return serve();
      }
      if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS });
      return text(405, "method not allowed\n", { Allow: "GET, HEAD, OPTIONS" });
    }
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS });
    if (raw === TIME_PATH && (req.method === "GET" || req.method === "HEAD"))
      return timeResponse(req.method, CORS);
    if (raw === "/health") {
      return Response.json(
        { status: "ok", ...(o.health?.() ?? {}) },
        { headers: { "Cache-Control": "no-store" } },
      );
    }
    if (raw === "/metrics") {
      return m.registry.metrics().then(
        (body) =>
          new Response(body, {
            headers: { "Content-Type": m.registry.contentType, "Cache-Control": "no-store" },
          }),
      );
    }
    return notFound();
  }

  function count(method: string, status: number): void {
    const key = `${method} ${status}`;
    requests.set(key, (requests.get(key) ?? 0) + 1);
  }

  function failed(err: unknown): Response {
    o.logger.error({ err: (err as Error).message }, "http handler failed");
    return text(500, "internal error\n");
  }

  const server = Bun.serve({
    hostname: o.hostname ?? "0.0.0.0",
    port: o.port ?? 8090,
    fetch(req) {
      let res: Response | Promise<Response>;
      try {
        res = handle(req);
      } catch (err) {
        res = failed(err);
      }
      if (res instanceof Response) {
        count(req.method, res.status);
        return res;
      }
      return res.catch(failed).then((r) => {
        count(req.method, r.status);
        return r;
      });
    },
    error(err) {
      // A segment deleted between the stat and Bun opening it (it slid out of the playlist).
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return notFound();
      o.logger.error({ err: err.message }, "http server error");
      return text(500, "internal error\n");
    },
  });
  const port = server.port ?? 0;
  return {
    port,
    url: `http://${o.hostname && o.hostname !== "0.0.0.0" ? o.hostname : "127.0.0.1"}:${port}`,
    async stop() {
      await server.stop(true);
    },
  };
}
