/**
 * Routes: which origins a router may send a stream's viewers to. One rule, used by both the MQTT
 * publisher (retained `routes/{id}`) and `GET /v1/routes` (a router's bootstrap and resync), so
 * the two never disagree (docs/adr/0005-control-network-reconcile.md). Pure.
 *
 * - live: the serving nodes (role `origin` or `transcode`; an `ingest` node has no segments)
 *   that are online;
 * - coming up (`starting`, `error` while the supervisor restarts it) or failing over (live, or
 *   last live, on a node that is now offline or gone): a route with no origins, so routers
 *   answer a retryable 503 rather than 404 (and never send viewers to an origin without the
 *   stream);
 * - reconnecting (its publisher dropped, the reconnect window runs): as live, the origin keeps
 *   serving the window's playlists;
 * - stopped on a healthy node: a route with no origins while its reconnect grace runs (the
 *   streamer is probably coming back), then none;
 * - never started: no route, routers answer 404.
 */
import { Route, type RouteOrigin, type StreamRole, type StreamStatusValue, validate } from "@dionysia/shared";
import { placementsOf } from "./reconcile.ts";

export interface RouteNode {
  id: string;
  publicUrl: string;
  region: string;
  lat: number;
  lon: number;
  online: boolean;
}

export interface RoutedStream {
  id: string;
  playbackPolicy: Route["policy"];
  status: StreamStatusValue;
  nodeId: string | null;
  transcodeNodeId: string | null;
  /** The node that last reported the stream live (null: never live, or that node was deleted). */
  liveNodeId: string | null;
  /** Epoch ms of the end of its ingest reservation or reconnect grace (scheduler/load.ts). */
  reservedUntil: number | null;
}

function origin(n: RouteNode, role: StreamRole): RouteOrigin {
  return { nodeId: n.id, url: n.publicUrl, region: n.region, lat: n.lat, lon: n.lon, role };
}

function checked(route: Route): Route {
  const err = validate(Route, route);
  if (err) throw new Error(`invalid route for stream ${route.id}: ${err}`);
  return route;
}

/**
 * The serving nodes of `placements` that are online, in placement order (null when none): the
 * origins of a live stream.
 */
function servingOrigins(
  placements: readonly { nodeId: string; role: StreamRole }[],
  nodes: ReadonlyMap<string, RouteNode>,
): RouteOrigin[] | null {
  const out: RouteOrigin[] = [];
  const used = new Set<string>();
  for (const p of placements) {
    if (p.role === "ingest" || used.has(p.nodeId)) continue;
    const n = nodes.get(p.nodeId);
    if (!n?.online) continue;
    used.add(n.id);
    out.push(origin(n, p.role));
  }
  return out.length > 0 ? out : null;
}

/** The route of one stream at `ts` (null: not routed). */
export function routeFor(
  s: RoutedStream,
  nodes: ReadonlyMap<string, RouteNode>,
  ts = Date.now(),
): Route | null {
  const base = { id: s.id, policy: s.playbackPolicy, ts };
  // Reconnecting: viewers stay on the origin that keeps the playlists open for the streamer.
  if (s.status === "live" || s.status === "reconnecting") {
    const origins = servingOrigins(placementsOf(s), nodes);
    // Live but its node went offline: failing over.
    return checked({ ...base, origins: origins ?? [] });
  }
  if (s.status === "starting" || s.status === "error") return checked({ ...base, origins: [] });
  if (!s.liveNodeId) return null;
  const last = nodes.get(s.liveNodeId);
  if (!last?.online || (s.reservedUntil ?? 0) > ts) return checked({ ...base, origins: [] });
  return null;
}

/** A VOD asset's route (ADR 0095): the node that holds its files, when online (else 503, retry). */
export function routeForAsset(
  a: { id: string; nodeId: string | null; policy: Route["policy"] },
  nodes: ReadonlyMap<string, RouteNode>,
  ts = Date.now(),
): Route {
  const n = a.nodeId ? nodes.get(a.nodeId) : undefined;
  return checked({ id: a.id, policy: a.policy, ts, origins: n?.online ? [origin(n, "origin")] : [] });
}
