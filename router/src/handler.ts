/**
 * The router as one web-standard fetch handler: no Bun.*, no Deno.*, no I/O on the redirect path.
 * `/live/{id}/{file}` → 302 to the nearest online origin carrying the stream (or proxied),
 * `/health`, `/metrics`, CORS everywhere.
 */
import type { RouterConfig } from "./config.ts";
import { clientPosition, type GeoHeaders } from "./geo/client.ts";
import { parseLivePath, splitTarget } from "./http/paths.ts";
import { type FetchFn, OriginUnreachable, proxyTo } from "./http/proxy.ts";
import { CORS_HEADERS, errorResponse, PREFLIGHT_HEADERS } from "./http/responses.ts";
import { type Log, silentLog } from "./obs/log.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./obs/metrics.ts";
import { createRouterMetrics, type Outcome, type RouterMetrics } from "./obs/router-metrics.ts";
import type { RouteTable } from "./table/store.ts";

export type HandlerConfig = Pick<
  RouterConfig,
  | "mode"
  | "latHeader"
  | "lonHeader"
  | "fallbackLatHeader"
  | "fallbackLonHeader"
  | "countryHeaders"
  | "redirectMaxAge"
  | "proxyTimeoutMs"
  | "requireBootstrap"
>;

export interface RouterDeps {
  table: RouteTable;
  metrics?: RouterMetrics;
  log?: Log;
  /** Used by proxy mode; injectable for tests. */
  fetch?: FetchFn;
  /** Extra fields for /health (e.g. MQTT connection state). */
  status?: () => Record<string, unknown>;
}

export type FetchHandler = (req: Request, info?: unknown) => Promise<Response>;

const LIVE_PREFIX = "/live/";

export function createRouter(config: HandlerConfig, deps: RouterDeps): FetchHandler {
  const { table } = deps;
  const metrics = deps.metrics ?? createRouterMetrics(table);
  const log = deps.log ?? silentLog;
  const doFetch: FetchFn = deps.fetch ?? ((input, init) => fetch(input, init));
  const geo: GeoHeaders = config;
  const proxy = config.mode === "proxy";
  const cacheControl = config.redirectMaxAge > 0 ? `public, max-age=${config.redirectMaxAge}` : "no-store";
  // A cached redirect is only right for viewers in the same place: tell caches what it depended on.
  const vary =
    config.redirectMaxAge > 0
      ? [
          config.latHeader,
          config.lonHeader,
          config.fallbackLatHeader,
          config.fallbackLonHeader,
          ...config.countryHeaders,
        ].join(", ")
      : undefined;

  const done = (outcome: Outcome, started: number, res: Response): Response => {
    metrics.byOutcome[outcome]();
    metrics.duration.observe((performance.now() - started) / 1000);
    return res;
  };

  async function live(req: Request, rest: string, search: string, started: number): Promise<Response> {
    const p = parseLivePath(rest);
    if (!p.ok) return done("bad_request", started, errorResponse(400, "bad_request", p.message));
    const pos = clientPosition(req.headers, geo);
    const choice = table.choose(p.id, pos);
    if (choice.kind === "unknown")
      return done("not_found", started, errorResponse(404, "not_found", `stream ${p.id} is not routed`));
    if (choice.kind === "down")
      return done(
        "unavailable",
        started,
        errorResponse(503, "unavailable", `no healthy origin carries stream ${p.id}`, { "retry-after": "2" }),
      );
    const suffix = `/live/${p.id}/${p.file}${search}`;
    if (!proxy) {
      const headers: Record<string, string> = {
        location: choice.origin.base + suffix,
        "cache-control": cacheControl,
        "x-dionysia-node": choice.origin.nodeId,
        ...CORS_HEADERS,
      };
      if (vary) headers.vary = vary;
      return done("redirect", started, new Response(null, { status: 302, headers }));
    }
    // Proxy: nearest first, the next one if it cannot be reached (its LWT may not have fired yet).
    const order = table.candidates(choice.entry, pos);
    for (const origin of order.slice(0, 2)) {
      try {
        const res = await proxyTo(req, origin, origin.base + suffix, config.proxyTimeoutMs, doFetch);
        return done("proxy", started, res);
      } catch (err) {
        if (!(err instanceof OriginUnreachable)) throw err;
        log.warn({ streamId: p.id, nodeId: origin.nodeId, err: err.message }, "origin unreachable");
      }
    }
    return done("bad_gateway", started, errorResponse(502, "bad_gateway", `origins of ${p.id} unreachable`));
  }

  return async function handle(req: Request): Promise<Response> {
    const started = performance.now();
    const { path, search } = splitTarget(req.url);
    const method = req.method;
    if (method === "OPTIONS")
      return done("preflight", started, new Response(null, { status: 204, headers: PREFLIGHT_HEADERS }));
    if (method !== "GET" && method !== "HEAD")
      return done(
        "method_not_allowed",
        started,
        errorResponse(405, "method_not_allowed", `${method} is not supported`, {
          allow: "GET, HEAD, OPTIONS",
        }),
      );
    if (path.startsWith(LIVE_PREFIX)) {
      try {
        return await live(req, path.slice(LIVE_PREFIX.length), search, started);
      } catch (err) {
        log.error({ err: (err as Error).message, path }, "request failed");
        return errorResponse(500, "internal", "internal error");
      }
    }
    if (path === "/health") {
      const ready = table.hasBootstrapped || !config.requireBootstrap;
      const body = {
        status: ready ? "ok" : "starting",
        routes: table.size,
        nodesOffline: table.offlineNodes,
        bootstrapped: table.hasBootstrapped,
        mode: config.mode,
        ...deps.status?.(),
      };
      return done(
        "health",
        started,
        Response.json(body, {
          status: ready ? 200 : 503,
          headers: { "cache-control": "no-store", ...CORS_HEADERS },
        }),
      );
    }
    if (path === "/metrics")
      return done(
        "metrics",
        started,
        new Response(metrics.registry.render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } }),
      );
    return done("not_found", started, errorResponse(404, "not_found", `no route for ${path}`));
  };
}
