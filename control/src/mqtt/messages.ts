/**
 * Builders for the messages control publishes (desired state per node, route per stream).
 * Pure; they validate against the shared schemas so a bug surfaces here, not on every origin.
 */
import {
  type DesiredStream,
  NodeDesired,
  Route,
  type RouteOrigin,
  type StreamRole,
  validate,
} from "@dionysia/shared";

/** Full desired state of one node; streams sorted by id (stable payloads, easy diffs). */
export function buildDesired(
  nodeId: string,
  version: number,
  assignments: readonly DesiredStream[],
): NodeDesired {
  const seen = new Set<string>();
  for (const a of assignments) {
    if (seen.has(a.id)) throw new Error(`stream ${a.id} assigned twice to node ${nodeId}`);
    seen.add(a.id);
  }
  const desired: NodeDesired = {
    version,
    nodeId,
    streams: [...assignments].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
  };
  const err = validate(NodeDesired, desired);
  if (err) throw new Error(`invalid desired state for node ${nodeId}: ${err}`);
  return desired;
}

export interface RouteNode {
  id: string;
  publicUrl: string;
  region: string;
  lat: number;
  lon: number;
  /** Defaults to true; offline nodes are left out of routes. */
  online?: boolean;
}

export interface StreamPlacement {
  nodeId: string;
  role: StreamRole;
}

/**
 * Route of one stream: the nodes that serve its playlists (role `origin` or `transcode`; an
 * `ingest` node only relays to its transcode peer, it has no segments). Null when no serving
 * node is online: the caller deletes the route instead (empty retained payload).
 */
export function buildRoute(
  stream: { id: string; playbackPolicy: Route["policy"] },
  placements: readonly StreamPlacement[],
  nodes: readonly RouteNode[] | ReadonlyMap<string, RouteNode>,
  ts = Date.now(),
): Route | null {
  const byId = nodes instanceof Map ? nodes : new Map((nodes as readonly RouteNode[]).map((n) => [n.id, n]));
  const origins: RouteOrigin[] = [];
  const used = new Set<string>();
  for (const p of placements) {
    if (p.role === "ingest" || used.has(p.nodeId)) continue;
    const n = byId.get(p.nodeId);
    if (!n || n.online === false) continue;
    used.add(n.id);
    origins.push({ nodeId: n.id, url: n.publicUrl, region: n.region, lat: n.lat, lon: n.lon, role: p.role });
  }
  if (origins.length === 0) return null;
  const route: Route = { id: stream.id, policy: stream.playbackPolicy, origins, ts };
  const err = validate(Route, route);
  if (err) throw new Error(`invalid route for stream ${stream.id}: ${err}`);
  return route;
}
