/**
 * The router as one web-standard fetch handler: no Bun.*, no Deno.*, no I/O on the redirect path.
 * `/live/{streamId}/{file}` and `/vod/{assetId}/{file}` → 302 to the nearest online origin carrying
 * the route (or proxied), `/health`, `/metrics`, `/time` (the clock DASH players synchronise to),
 * CORS everywhere. Streams and VOD assets are routes of the one table (ADR 0096).
 */

import type { LatLon } from "../../shared/src/geo.ts";
import { PlaybackVerifier, type TokenCheck } from "../../shared/src/playback/token.ts";
import { TIME_PATH, timeResponse } from "../../shared/src/time-source.ts";
import { checkPlayback, locationWithToken, type PlaybackAsk } from "./auth/playback.ts";
import type { RouterConfig } from "./config.ts";
import { clientPosition, type GeoHeaders } from "./geo/client.ts";
import { parseRoutedPath, pathStart, type Routed, routedAt, routedId, splitTarget } from "./http/paths.ts";
import { type FetchFn, OriginUnreachable, proxyTo } from "./http/proxy.ts";
import { CORS_HEADERS, errorResponse, PREFLIGHT_HEADERS } from "./http/responses.ts";
import { type Log, silentLog } from "./obs/log.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./obs/metrics.ts";
import { createRouterMetrics, type Outcome, type RouterMetrics } from "./obs/router-metrics.ts";
import type { Entry, RouteTable } from "./table/store.ts";

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
  | "clientIpHeader"
>;

export interface RouterDeps {
  table: RouteTable;
  metrics?: RouterMetrics;
  log?: Log;
  /** Used by proxy mode; injectable for tests. */
  fetch?: FetchFn;
  /** Extra fields for /health (e.g. MQTT connection state). */
  status?: () => Record<string, unknown>;
  /** Signed playback (ADR 0060). Absent: an empty key set, so every signed stream is refused. */
  verifier?: PlaybackVerifier;
}

/**
 * A fetch handler as Deno.serve, Bun.serve and edge platforms take it. Redirects are returned
 * synchronously (a Promise per request costs ~15% throughput on Bun); proxy answers are Promises.
 * `await handler(req)` works either way.
 */
export type FetchHandler = (req: Request, info?: unknown) => Response | Promise<Response>;

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

  // Redirects are only counted: timing a sub-microsecond answer costs more than it tells (the
  // load balancer or CDN sees the real latency). Proxied and other answers are timed.
  const done = (outcome: Outcome, started: number, res: Response): Response => {
    metrics.byOutcome[outcome]();
    if (started > 0) metrics.duration.observe((performance.now() - started) / 1000);
    return res;
  };

  const countRedirect = metrics.byOutcome.redirect;
  const verifier = deps.verifier ?? new PlaybackVerifier();

  /** A refused playback token: 401 without one, 403 otherwise, with the reason (ADR 0060). */
  const tokenRefused = (
    rt: Routed,
    id: string,
    r: Exclude<TokenCheck, { ok: true }>,
    started: number,
  ): Response => {
    log.info({ [rt.idField]: id, code: r.code, reason: r.reason }, "playback token refused");
    return done(r.code, started, errorResponse(r.status, r.code, r.reason));
  };

  /**
   * A signed route in redirect mode: the token first (its subject is the route id, stream or
   * asset), then the usual redirect.
   */
  function signedRedirect(
    req: Request,
    url: string,
    start: number,
    rt: Routed,
    id: string,
  ): Response | Promise<Response> {
    const ask = checkPlayback(verifier, req, url, id, config);
    const after = (r: TokenCheck): Response => {
      if (!r.ok) return tokenRefused(rt, id, r, 0);
      // Re-read: the route may have changed while a new token's signature was being checked.
      const entry = table.get(id);
      if (!entry) return notRouted(rt, id, 0);
      const origin = table.pick(entry, clientPosition(req.headers, geo));
      if (!origin) return allDown(rt, id, 0);
      const hash = url.indexOf("#", start);
      const location = locationWithToken(
        origin.base + (hash < 0 ? url.slice(start) : url.slice(start, hash)),
        ask,
      );
      countRedirect();
      // Never cached by a shared cache: the answer depends on the token.
      return new Response(null, {
        status: 302,
        headers: { location, "cache-control": "private, no-store", "access-control-allow-origin": "*" },
      });
    };
    const c = ask.check;
    return c instanceof Promise ? c.then(after) : after(c);
  }

  /**
   * The hot path (ADR 0057): GET/HEAD `/live/…` (and `/vod/…`, ADR 0096) in redirect mode. Validates
   * in place on the raw URL, reads only the geo headers it needs, and answers with
   * `{origin}{path and query as received}`. `rt` is a module constant: passing it allocates nothing.
   */
  function redirect(req: Request, url: string, start: number, rt: Routed): Response | Promise<Response> {
    const id = routedId(url, start, rt);
    if (id === undefined) return badPath(url, rt, 0);
    const entry = table.get(id);
    if (!entry) return notRouted(rt, id, 0);
    if (entry.policy === "signed") return signedRedirect(req, url, start, rt, id);
    const origin = table.pick(entry, clientPosition(req.headers, geo));
    if (!origin) return allDown(rt, id, 0);
    const hash = url.indexOf("#", start);
    const location = origin.base + (hash < 0 ? url.slice(start) : url.slice(start, hash));
    countRedirect();
    // Few headers on purpose: each one costs on the hottest path. The redirect needs
    // Access-Control-Allow-Origin for a browser to follow it; the Location names the node.
    return new Response(null, {
      status: 302,
      headers: vary
        ? { location, "cache-control": cacheControl, "access-control-allow-origin": "*", vary }
        : { location, "cache-control": cacheControl, "access-control-allow-origin": "*" },
    });
  }

  // The error answers: the same outcomes for streams and assets, so VOD shares the metric labels.
  const badPath = (url: string, rt: Routed, started: number): Response => {
    const p = parseRoutedPath(splitTarget(url).path.slice(rt.prefix.length), rt);
    const message = p.ok ? `bad ${rt.noun} path` : p.message;
    return done("bad_request", started, errorResponse(400, "bad_request", message));
  };
  const notRouted = (rt: Routed, id: string, started: number): Response =>
    done("not_found", started, errorResponse(404, "not_found", `${rt.noun} ${id} is not routed`));
  const allDown = (rt: Routed, id: string, started: number): Response =>
    done(
      "unavailable",
      started,
      errorResponse(503, "unavailable", `no healthy origin carries ${rt.noun} ${id}`, {
        "retry-after": "2",
      }),
    );

  /** Proxy mode's `/live/…` and `/vod/…`: same checks, then the origin's bytes. */
  function play(
    req: Request,
    url: string,
    start: number,
    rt: Routed,
    started: number,
  ): Response | Promise<Response> {
    const id = routedId(url, start, rt);
    if (id === undefined) return badPath(url, rt, started);
    const entry = table.get(id);
    if (!entry) return notRouted(rt, id, started);
    const pos = clientPosition(req.headers, geo);
    if (!table.pick(entry, pos)) return allDown(rt, id, started);
    const hash = url.indexOf("#", start);
    const suffix = hash < 0 ? url.slice(start) : url.slice(start, hash);
    if (entry.policy === "signed") {
      const ask = checkPlayback(verifier, req, url, id, config);
      const after = (r: TokenCheck, a: PlaybackAsk): Response | Promise<Response> =>
        r.ok
          ? proxied(req, rt, id, locationWithToken(suffix, a), entry, pos, started)
          : tokenRefused(rt, id, r, started);
      return ask.check instanceof Promise ? ask.check.then((r) => after(r, ask)) : after(ask.check, ask);
    }
    return proxied(req, rt, id, suffix, entry, pos, started);
  }

  async function proxied(
    req: Request,
    rt: Routed,
    id: string,
    suffix: string,
    entry: Entry,
    pos: LatLon | undefined,
    started: number,
  ): Promise<Response> {
    // Nearest first, the next one if it cannot be reached (its LWT may not have fired yet).
    const order = table.candidates(entry, pos);
    for (const origin of order.slice(0, 2)) {
      try {
        const res = await proxyTo(req, origin, origin.base + suffix, config.proxyTimeoutMs, doFetch);
        return done("proxy", started, res);
      } catch (err) {
        if (!(err instanceof OriginUnreachable)) throw err;
        log.warn({ [rt.idField]: id, nodeId: origin.nodeId, err: err.message }, "origin unreachable");
      }
    }
    return done("bad_gateway", started, errorResponse(502, "bad_gateway", `origins of ${id} unreachable`));
  }

  const internal = (err: unknown, path: string): Response => {
    log.error({ err: (err as Error).message, path }, "request failed");
    return errorResponse(500, "internal", "internal error");
  };

  return function handle(req: Request): Response | Promise<Response> {
    const url = req.url;
    const start = pathStart(url);
    const method = req.method;
    const read = method === "GET" || method === "HEAD";
    const rt = routedAt(url, start);
    if (read && !proxy && rt) {
      try {
        const res = redirect(req, url, start, rt);
        return res instanceof Response ? res : res.catch((err) => internal(err, url.slice(start)));
      } catch (err) {
        return internal(err, url.slice(start));
      }
    }
    const started = proxy ? performance.now() : 0;
    const { path } = splitTarget(url);
    if (method === "OPTIONS")
      return done("preflight", started, new Response(null, { status: 204, headers: PREFLIGHT_HEADERS }));
    if (!read)
      return done(
        "method_not_allowed",
        started,
        errorResponse(405, "method_not_allowed", `${method} is not supported`, {
          allow: "GET, HEAD, OPTIONS",
        }),
      );
    if (rt) {
      try {
        const res = play(req, url, start, rt, started);
        return res instanceof Response ? res : res.catch((err) => internal(err, path));
      } catch (err) {
        return internal(err, path);
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
    if (path === TIME_PATH) return done("time", started, timeResponse(method, CORS_HEADERS));
    if (path === "/metrics")
      return done(
        "metrics",
        started,
        new Response(metrics.registry.render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } }),
      );
    return done("not_found", started, errorResponse(404, "not_found", `no route for ${path}`));
  };
}
