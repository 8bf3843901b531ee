/**
 * The origin's HTTP server (Bun.serve + Bun.file): `/live/{id}/...` to the CDN with the right
 * cache headers and content types, CORS, HEAD and Range; `/health`; `/metrics`.
 */
import { realpath } from "node:fs/promises";
import { resolve, sep } from "node:path";
import type { Logger } from "@dionysia/shared";
import type { OriginMetrics } from "../metrics/index.ts";
import { CONTENT_TYPES, isManifest, parseRange, resolveLivePath } from "./paths.ts";

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

const PLAYLIST_CACHE = "public, max-age=1";
const SEGMENT_CACHE = "public, max-age=31536000, immutable";

function text(status: number, body: string, extra: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", ...CORS, ...extra },
  });
}

export function createOriginHttp(o: OriginHttpOptions): OriginHttp {
  const liveRoot = resolve(o.dataDir, "live");
  const m = o.metrics;

  async function serveLive(req: Request, rawPath: string): Promise<Response> {
    const r = resolveLivePath(liveRoot, rawPath);
    if (!r.ok) return text(r.status, r.status === 400 ? "bad path\n" : "not found\n");
    const type = CONTENT_TYPES[r.ext];
    if (!type) return text(404, "not found\n");
    const file = Bun.file(r.path);
    if (!(await file.exists())) return text(404, "not found\n");
    // A symlink must not lead out of the data dir.
    const real = await realpath(r.path).catch(() => "");
    const realRoot = await realpath(liveRoot).catch(() => liveRoot);
    if (!real.startsWith(realRoot + sep)) return text(404, "not found\n");
    const size = file.size;
    const headers: Record<string, string> = {
      ...CORS,
      "Content-Type": type,
      "Cache-Control": isManifest(r.ext) ? PLAYLIST_CACHE : SEGMENT_CACHE,
      "Accept-Ranges": "bytes",
      "Last-Modified": new Date(file.lastModified).toUTCString(),
    };
    const kind = isManifest(r.ext) ? "manifest" : "segment";
    const range = parseRange(req.headers.get("range"), size);
    if (range === null) {
      return text(416, "range not satisfiable\n", { "Content-Range": `bytes */${size}` });
    }
    const head = req.method === "HEAD";
    if (range) {
      const len = range.end - range.start + 1;
      headers["Content-Range"] = `bytes ${range.start}-${range.end}/${size}`;
      headers["Content-Length"] = String(len);
      if (!head) m.bytesServed.inc({ kind }, len);
      return new Response(head ? null : file.slice(range.start, range.end + 1), { status: 206, headers });
    }
    headers["Content-Length"] = String(size);
    if (!head) m.bytesServed.inc({ kind }, size);
    return new Response(head ? null : file, { status: 200, headers });
  }

  async function handle(req: Request): Promise<Response> {
    // The raw path, before URL normalisation, so encoded traversal is seen and refused.
    const raw = req.url.replace(/^[a-z]+:\/\/[^/]*/i, "").split("?")[0] ?? "/";
    const extra = o.extraRoutes?.[raw];
    if (extra) return extra(req);
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS });
    if (raw === "/health") {
      return Response.json(
        { status: "ok", ...(o.health?.() ?? {}) },
        { headers: { "Cache-Control": "no-store" } },
      );
    }
    if (raw === "/metrics") {
      return new Response(await m.registry.metrics(), {
        headers: { "Content-Type": m.registry.contentType, "Cache-Control": "no-store" },
      });
    }
    if (raw.startsWith("/live/")) {
      if (req.method !== "GET" && req.method !== "HEAD")
        return text(405, "method not allowed\n", { Allow: "GET, HEAD, OPTIONS" });
      return serveLive(req, raw.slice("/live/".length));
    }
    return text(404, "not found\n");
  }

  const server = Bun.serve({
    hostname: o.hostname ?? "0.0.0.0",
    port: o.port ?? 8090,
    async fetch(req) {
      let res: Response;
      try {
        res = await handle(req);
      } catch (err) {
        o.logger.error({ err: (err as Error).message }, "http handler failed");
        res = text(500, "internal error\n");
      }
      m.httpRequests.inc({ method: req.method, status: String(res.status) });
      return res;
    },
    error(err) {
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
