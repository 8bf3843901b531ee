/** Route fixtures and the control / origin servers the router talks to, per their contracts. */
import type { Route, RouteOrigin } from "../../../shared/src/schemas/mqtt.ts";
import { loadRouterConfig, type RouterConfig } from "../../src/config.ts";
import { type Served, serveLocal } from "./serve.ts";

export const ROUTER_KEY = "rk_test_0123456789abcdef";

/** Three places far apart, so "nearest" is unambiguous. */
export const PARIS = { lat: 48.86, lon: 2.35 };
export const NEW_YORK = { lat: 40.71, lon: -74.0 };
export const TOKYO = { lat: 35.68, lon: 139.69 };

export function origin(
  nodeId: string,
  url: string,
  at: { lat: number; lon: number },
  role: RouteOrigin["role"] = "origin",
): RouteOrigin {
  return { nodeId, url, region: nodeId, lat: at.lat, lon: at.lon, role };
}

export function route(id: string, origins: RouteOrigin[]): Route {
  return { id, policy: "public", origins, ts: Date.now() };
}

export function testConfig(env: Record<string, string> = {}): RouterConfig {
  return loadRouterConfig({ DIONYSIA_ROUTER_KEY: ROUTER_KEY, ROUTER_PORT: "0", LOG_LEVEL: "silent", ...env });
}

/**
 * Control's documented contract for routers: `GET /v1/routes`, `Authorization: Bearer <router key>`
 * → 200 `{routes: Route[]}`; 401 JSON otherwise. `up = false` answers 503 like a control that is down.
 */
export interface FakeControl extends Served {
  routes: Route[];
  up: boolean;
  calls: number;
  authFailures: number;
}

export function startControl(routes: Route[] = [], port = 0): FakeControl {
  const state = { routes, up: true, calls: 0, authFailures: 0 };
  const served = serveLocal((req) => {
    const path = new URL(req.url).pathname;
    if (path !== "/v1/routes")
      return Response.json({ error: { code: "not_found", message: "no such route" } }, { status: 404 });
    state.calls++;
    if (req.headers.get("authorization") !== `Bearer ${ROUTER_KEY}`) {
      state.authFailures++;
      return Response.json({ error: { code: "unauthorized", message: "bad router key" } }, { status: 401 });
    }
    if (!state.up) return Response.json({ error: { code: "unavailable", message: "down" } }, { status: 503 });
    return Response.json({ routes: state.routes });
  }, port);
  return Object.assign(state, served);
}

/** A minimal origin: serves fixed bytes for any /live path, with Range support, like the real one. */
// Big enough to stream in many chunks (a body cut short when the request is done would show).
export const SEGMENT = new Uint8Array(2 * 1024 * 1024).map((_, i) => i % 251);
export const PLAYLIST = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n";

export function startOrigin(name: string): Served & { hits: string[] } {
  const hits: string[] = [];
  const served = serveLocal(async (req) => {
    const u = new URL(req.url);
    hits.push(`${req.method} ${u.pathname}${u.search}`);
    // `hold_ms`: answer late, as an origin holding a blocking playlist reload does.
    const hold = Number(u.searchParams.get("hold_ms") ?? 0);
    if (hold > 0) await new Promise((r) => setTimeout(r, hold));
    const cors = { "access-control-allow-origin": "*", "x-origin-name": name };
    if (u.pathname.endsWith(".m3u8"))
      return new Response(req.method === "HEAD" ? null : PLAYLIST, {
        headers: { ...cors, "content-type": "application/vnd.apple.mpegurl", "cache-control": "max-age=1" },
      });
    if (u.pathname.endsWith(".m4s")) {
      const range = req.headers.get("range");
      const m = range ? /^bytes=(\d+)-(\d+)?$/.exec(range) : null;
      const base = { ...cors, "content-type": "video/iso.segment", "accept-ranges": "bytes", etag: '"seg1"' };
      if (m) {
        const from = Number(m[1]);
        const to = m[2] ? Math.min(Number(m[2]), SEGMENT.length - 1) : SEGMENT.length - 1;
        return new Response(SEGMENT.slice(from, to + 1), {
          status: 206,
          headers: { ...base, "content-range": `bytes ${from}-${to}/${SEGMENT.length}` },
        });
      }
      return new Response(SEGMENT, { headers: base });
    }
    return new Response("not found", { status: 404, headers: cors });
  });
  return Object.assign(served, { hits });
}
