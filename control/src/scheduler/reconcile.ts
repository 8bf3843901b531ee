/**
 * Pure reconciliation of the network: from a snapshot of nodes and streams, what the database
 * should change (failover, drain, placing pull streams) and what every node must carry.
 * network/service.ts reads the snapshot, has streams/ write the changes, and publishes the
 * results (desired state here, routes in routes.ts).
 */
import {
  type DesiredStream,
  type LatLon,
  type ProfileSpec,
  profileCost,
  reconnectWindowSeconds,
  relayPullUrl,
  type StreamRole,
  type StreamStatusValue,
} from "@dionysia/shared";
import { servedCost, servedProfile } from "./ladder.ts";
import type { NodeView } from "./placement.ts";
import { placeStream } from "./placement.ts";
import { type AssignedStream, planFailover } from "./plans.ts";

export interface StreamSnapshot {
  id: string;
  playbackPolicy: "public" | "signed";
  status: StreamStatusValue;
  profile: ProfileSpec;
  /** The stream's own reconnect window (null: its profile's). */
  reconnectWindowSeconds: number | null;
  /** Sessions become VOD assets (ADR 0095). */
  record: boolean;
  /**
   * Where its playlists stood on another node than the one it is on now, while its session goes
   * on (ADR 0091): the new node continues from there. Absent otherwise.
   */
  continueFrom?: { mediaSequence: number; discontinuitySequence: number };
  keyHash: string;
  srtPassphrase: string;
  source: string | null;
  location: LatLon | null;
  region: string | null;
  nodeId: string | null;
  transcodeNodeId: string | null;
  /** Rungs admitted at the last claim (null: the whole ladder). */
  admitted: string[] | null;
  /** The stream's own SRT port (embedded server), assigned by control. */
  srtPort: number | null;
  /** The node that last reported the stream live (routes.ts). */
  liveNodeId: string | null;
  /** End of its ingest reservation or reconnect grace (routes.ts). */
  reservedUntil: number | null;
}

export interface NodeSnapshot extends NodeView {
  relayUrl?: string | null;
}

export interface Assignment {
  nodeId: string | null;
  transcodeNodeId: string | null;
}

/** Streams carried by a node, each in one role. An overflow stream appears on two nodes. */
export function placementsOf(s: Pick<StreamSnapshot, "nodeId" | "transcodeNodeId">) {
  const out: { nodeId: string; role: StreamRole }[] = [];
  if (s.nodeId) out.push({ nodeId: s.nodeId, role: s.transcodeNodeId ? "ingest" : "origin" });
  if (s.transcodeNodeId) out.push({ nodeId: s.transcodeNodeId, role: "transcode" });
  return out;
}

function toAssigned(s: StreamSnapshot): AssignedStream[] {
  const cost = servedCost(s.profile, s.admitted);
  const base = { id: s.id, cost, pull: s.source !== null, location: s.location, region: s.region };
  return placementsOf(s).map((p) => ({
    ...base,
    nodeId: p.nodeId,
    role: p.role,
    ingestNodeId: p.role === "transcode" ? s.nodeId : null,
  }));
}

/**
 * Changes to make: streams off offline nodes (all) and draining nodes (pull streams only: a push
 * stays with its streamer until it stops), then unassigned pull streams placed on the nearest
 * node with headroom. Returns only the streams whose assignment changes.
 */
export function planReconcile(
  streams: readonly StreamSnapshot[],
  nodes: readonly NodeSnapshot[],
  opts: { tieKm?: number } = {},
): Map<string, Assignment> {
  const changes = new Map<string, Assignment>();
  const current = (s: StreamSnapshot): Assignment =>
    changes.get(s.id) ?? { nodeId: s.nodeId, transcodeNodeId: s.transcodeNodeId };
  const work = nodes.map((n) => ({ ...n }));
  const byId = new Map(work.map((n) => [n.id, n]));
  const streamById = new Map(streams.map((s) => [s.id, s]));

  for (const node of work) {
    if (node.online && !node.draining) continue;
    const carried = streams.filter((s) => s.nodeId === node.id || s.transcodeNodeId === node.id);
    const eligible = node.online ? carried.filter((s) => s.source !== null) : carried;
    if (eligible.length === 0) continue;
    const assigned = eligible.flatMap(toAssigned);
    for (const a of planFailover(node.id, assigned, work, { tieKm: opts.tieKm })) {
      const s = streamById.get(a.streamId);
      if (!s) continue;
      const cur = current(s);
      if (a.action === "move") {
        changes.set(
          s.id,
          a.role === "transcode"
            ? { ...cur, transcodeNodeId: a.to }
            : { nodeId: a.to, transcodeNodeId: null },
        );
      } else if (a.reason === "no_capacity" && a.from === cur.transcodeNodeId) {
        changes.set(s.id, { ...cur, transcodeNodeId: null });
      } else {
        changes.set(s.id, { nodeId: null, transcodeNodeId: null });
      }
    }
  }

  for (const s of streams) {
    const cur = current(s);
    if (s.source === null || cur.nodeId !== null) continue;
    const cost = profileCost(s.profile);
    const r = placeStream({ cost, location: s.location, region: s.region }, work, { tieKm: opts.tieKm });
    if ("error" in r) continue;
    const target = byId.get(r.nodeId);
    if (target) target.used += cost;
    changes.set(s.id, { nodeId: r.nodeId, transcodeNodeId: null });
  }

  for (const [id, a] of changes) {
    const s = streamById.get(id);
    if (s && s.nodeId === a.nodeId && s.transcodeNodeId === a.transcodeNodeId) changes.delete(id);
  }
  return changes;
}

/** The desired entries of one node, sorted by stream id. */
export function desiredFor(
  nodeId: string,
  streams: readonly StreamSnapshot[],
  nodes: ReadonlyMap<string, Pick<NodeSnapshot, "relayUrl">>,
): DesiredStream[] {
  const out: DesiredStream[] = [];
  for (const s of streams) {
    for (const p of placementsOf(s)) {
      if (p.nodeId !== nodeId) continue;
      const entry: DesiredStream = {
        id: s.id,
        role: p.role,
        // The trimmed ladder: the origin's master playlist lists only the served rungs.
        profile: servedProfile(s.profile, s.admitted),
        keyHash: s.keyHash,
        srtPassphrase: s.srtPassphrase,
        source: s.source,
        reconnectWindowSeconds: reconnectWindowSeconds(s, s.profile),
        ...(s.record ? { record: true } : {}),
        ...(s.continueFrom && p.role !== "ingest" ? { continueFrom: s.continueFrom } : {}),
        // Signed playback (ADR 0060): only signed streams carry it, public payloads are unchanged.
        ...(s.playbackPolicy === "signed" ? { playbackPolicy: "signed" as const } : {}),
      };
      // The node that takes the push listens for SRT on the stream's own, stable port.
      if (p.role !== "transcode" && s.srtPort) entry.srtPort = s.srtPort;
      if (p.role === "transcode" && s.nodeId) {
        const relay = nodes.get(s.nodeId)?.relayUrl;
        if (!relay) continue; // nothing to pull from: the ingest node announced no relay
        entry.pullFrom = relayPullUrl(relay, s.id);
      }
      out.push(entry);
    }
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
