/**
 * Scheduling decisions built on `placeStream`: claim on first publish, overflow transcoding,
 * and failover/drain. Pure: each takes a snapshot of nodes and returns a plan; the caller
 * writes it to the database and publishes desired state and routes.
 */
import { type LatLon, type ProfileSpec, profileCost, type StreamRole } from "@dionysia/shared";
import { trimLadder } from "./ladder.ts";
import { headroom, isEligible, type NodeView, type PlaceOptions, placeStream } from "./placement.ts";

export type PlanOptions = PlaceOptions;

/** The transcode peer pulls from the ingest node's relay (desired state builds `pullFrom`). */
export interface OverflowPlan {
  ingestNodeId: string;
  transcodeNodeId: string;
}

export type OverflowResult = OverflowPlan | { error: "no_capacity" | "no_relay" | "unknown_node" };

/**
 * The ingest node has no transcode headroom: the nearest other eligible node with headroom
 * pulls from the ingest node's relay URL and transcodes (role `transcode`).
 */
export function planOverflow(
  stream: { id: string; cost: number },
  ingestNodeId: string,
  nodes: readonly NodeView[],
  opts: PlanOptions = {},
): OverflowResult {
  const ingest = nodes.find((n) => n.id === ingestNodeId);
  if (!ingest) return { error: "unknown_node" };
  if (!ingest.relayUrl) return { error: "no_relay" };
  const exclude = new Set(opts.exclude ?? []);
  exclude.add(ingestNodeId);
  const r = placeStream({ cost: stream.cost, location: { lat: ingest.lat, lon: ingest.lon } }, nodes, {
    ...opts,
    exclude,
  });
  if ("error" in r) return r;
  return { ingestNodeId, transcodeNodeId: r.nodeId };
}

export type ClaimResult =
  /** `served`: rungs admitted (null: the whole ladder); fewer than requested when trimmed to fit. */
  | { kind: "origin"; nodeId: string; served: string[] | null; cost: number }
  | ({ kind: "overflow"; served: null; cost: number } & OverflowPlan)
  | { error: "node_unavailable" | "no_capacity" | "no_relay" | "unknown_node" };

/**
 * First publish claims (`POST /v1/ingest/authorize`): the publishing node takes the stream when
 * it has headroom for the whole ladder; otherwise it only ingests and a neighbour transcodes;
 * otherwise the publishing node serves the ladder trimmed to its headroom (ladder.ts, unless the
 * profile says `degrade: false`). Refused only when not even the cheapest rung fits. A cordoned,
 * draining or offline node refuses so the streamer's load balancer tries another.
 */
export function planClaim(
  stream: { id: string; profile: ProfileSpec },
  publishingNodeId: string,
  nodes: readonly NodeView[],
  opts: PlanOptions = {},
): ClaimResult {
  const node = nodes.find((n) => n.id === publishingNodeId);
  if (!node) return { error: "unknown_node" };
  if (!isEligible(node)) return { error: "node_unavailable" };
  const cost = profileCost(stream.profile);
  const room = headroom(node);
  if (room >= cost) return { kind: "origin", nodeId: node.id, served: null, cost };
  const o = planOverflow({ id: stream.id, cost }, publishingNodeId, nodes, opts);
  if (!("error" in o)) return { kind: "overflow", served: null, cost, ...o };
  const trimmed = trimLadder(stream.profile, room);
  if ("error" in trimmed) return o;
  return { kind: "origin", nodeId: node.id, served: trimmed.served, cost: trimmed.cost };
}

export interface AssignedStream {
  id: string;
  cost: number;
  /** Node carrying the stream in this role. */
  nodeId: string;
  role: StreamRole;
  /** A pull input (source URL): control may start it anywhere. Push streams follow the streamer. */
  pull: boolean;
  location?: LatLon | null;
  region?: string | null;
  /** For role `transcode`: the node that ingests it. */
  ingestNodeId?: string | null;
}

export type FailoverAction =
  | { streamId: string; action: "move"; from: string; to: string; role: StreamRole }
  | { streamId: string; action: "unassign"; from: string; reason: "push" | "no_capacity" | "ingest_lost" };

/**
 * Moves work off a node that died (or is draining). Pull streams go to the next nearest node
 * (near the stream's location, else near the lost node); push streams are unassigned, to be
 * claimed by whichever node the streamer reconnects to. Transcode peers of a lost ingest node
 * lose their source and are unassigned; a lost transcode peer is replaced near its ingest node.
 * Larger streams are placed first, and each placement counts against the target's headroom.
 */
export function planFailover(
  lostNodeId: string,
  streams: readonly AssignedStream[],
  nodes: readonly NodeView[],
  opts: PlanOptions = {},
): FailoverAction[] {
  const lost = nodes.find((n) => n.id === lostNodeId);
  const work = nodes.map((n) => ({ ...n }));
  const byId = new Map(work.map((n) => [n.id, n]));
  const exclude = new Set(opts.exclude ?? []);
  exclude.add(lostNodeId);
  const o: PlanOptions = { ...opts, exclude };
  const actions: FailoverAction[] = [];
  const affected = streams
    .filter((s) => s.nodeId === lostNodeId || (s.role === "transcode" && s.ingestNodeId === lostNodeId))
    .sort((a, b) => b.cost - a.cost || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const s of affected) {
    if (s.nodeId !== lostNodeId) {
      actions.push({ streamId: s.id, action: "unassign", from: s.nodeId, reason: "ingest_lost" });
      continue;
    }
    if (s.role === "transcode" && s.ingestNodeId) {
      const r = planOverflow(s, s.ingestNodeId, work, o);
      if ("error" in r) {
        actions.push({ streamId: s.id, action: "unassign", from: s.nodeId, reason: "no_capacity" });
        continue;
      }
      const target = byId.get(r.transcodeNodeId) as NodeView;
      target.used += s.cost;
      actions.push({
        streamId: s.id,
        action: "move",
        from: s.nodeId,
        to: r.transcodeNodeId,
        role: "transcode",
      });
      continue;
    }
    if (!s.pull) {
      actions.push({ streamId: s.id, action: "unassign", from: s.nodeId, reason: "push" });
      continue;
    }
    const location = s.location ?? (lost ? { lat: lost.lat, lon: lost.lon } : null);
    const r = placeStream({ cost: s.cost, location, region: s.region ?? lost?.region ?? null }, work, o);
    if ("error" in r) {
      actions.push({ streamId: s.id, action: "unassign", from: s.nodeId, reason: "no_capacity" });
      continue;
    }
    (byId.get(r.nodeId) as NodeView).used += s.cost;
    actions.push({ streamId: s.id, action: "move", from: s.nodeId, to: r.nodeId, role: "origin" });
  }
  return actions;
}
