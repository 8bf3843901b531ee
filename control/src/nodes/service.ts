/**
 * Nodes: the HTTP read/cordon API and the plain functions the MQTT layer calls when an origin
 * announces itself, changes state or reports telemetry.
 */
import type { Node, NodeAnnounce, NodeTelemetry, UpdateNode } from "@dionysia/shared";
import { and, asc, eq, isNotNull, ne, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { type NodeRow, nodes, profiles, streams } from "../db/schema.ts";
import { notFound } from "../errors/index.ts";
import type { ControlEvents } from "../events.ts";
import { carriedLoads } from "../scheduler/load.ts";
import type { NodeView } from "../scheduler/placement.ts";
import type { RouteNode } from "../scheduler/routes.ts";
import { unassignNode } from "../streams/assignment.ts";
import { nodeEventData, recordEvent } from "../webhooks/outbox.ts";

const iso = (ms: number) => new Date(ms).toISOString();

function toNode(r: NodeRow): Node {
  return {
    id: r.id,
    region: r.region,
    lat: r.lat,
    lon: r.lon,
    publicUrl: r.publicUrl,
    ingest: r.ingest,
    capacity: r.capacity,
    encoders: r.encoders,
    mediaServer: r.mediaServer,
    version: r.version,
    state: r.state,
    cordoned: r.cordoned,
    draining: r.draining,
    load: r.load,
    firstSeen: iso(r.firstSeen),
    lastSeen: iso(r.lastSeen),
  };
}

export async function getNodeRow(db: Db, id: string): Promise<NodeRow | undefined> {
  const [row] = await db.select().from(nodes).where(eq(nodes.id, id)).limit(1);
  return row;
}

export async function listNodes(db: Db): Promise<Node[]> {
  return (await db.select().from(nodes).orderBy(asc(nodes.id))).map(toNode);
}

export async function getNode(db: Db, id: string): Promise<Node> {
  const row = await getNodeRow(db, id);
  if (!row) throw notFound("node", id);
  return toNode(row);
}

export async function updateNode(
  db: Db,
  id: string,
  patch: UpdateNode,
  events?: ControlEvents,
): Promise<Node> {
  const set: Partial<NodeRow> = {};
  if (patch.cordoned !== undefined) set.cordoned = patch.cordoned;
  if (patch.draining !== undefined) set.draining = patch.draining;
  const [row] = await db.update(nodes).set(set).where(eq(nodes.id, id)).returning();
  if (!row) throw notFound("node", id);
  events?.emit("node.updated", { nodeId: id });
  return toNode(row);
}

/**
 * Forgets a node: its streams are unassigned first (streams/ writes them), then its row goes.
 * `node.deleted` lets the network layer clear the node's retained messages on the broker.
 */
export async function deleteNode(db: Db, id: string, events?: ControlEvents): Promise<void> {
  if (!(await getNodeRow(db, id))) throw notFound("node", id);
  const carried = await unassignNode(db, id);
  const deleted = await db.delete(nodes).where(eq(nodes.id, id)).returning({ id: nodes.id });
  if (deleted.length === 0) throw notFound("node", id);
  for (const streamId of carried)
    events?.emit("stream.assigned", { streamId, nodeId: null, previousNodeId: id });
  events?.emit("node.deleted", { nodeId: id });
  events?.emit("node.updated", { nodeId: id });
}

/** The next version of a node's desired state (kept in the database so it grows across leaders). */
export async function nextDesiredVersion(db: Db, nodeId: string): Promise<number | undefined> {
  const [row] = await db
    .update(nodes)
    .set({ desiredVersion: sql`${nodes.desiredVersion} + 1` })
    .where(eq(nodes.id, nodeId))
    .returning({ v: nodes.desiredVersion });
  return row?.v;
}

/** What routes need to know about a node (scheduler/routes.ts). */
export function toRouteNode(r: NodeRow): RouteNode {
  return {
    id: r.id,
    publicUrl: r.publicUrl,
    region: r.region,
    lat: r.lat,
    lon: r.lon,
    online: r.state === "online",
  };
}

const EMPTY_LOAD = { used: 0, cpu: 0, ingressBps: 0, egressBps: 0, streams: 0 };

/** An announce (re)registers a node as online; operator flags (cordon/drain) survive re-announces. */
export async function upsertNodeFromAnnounce(db: Db, a: NodeAnnounce, events?: ControlEvents): Promise<Node> {
  const now = Date.now();
  const fields = {
    region: a.region,
    lat: a.lat,
    lon: a.lon,
    publicUrl: a.publicUrl,
    ingest: a.ingest,
    capacity: a.capacity,
    encoders: a.encoders,
    mediaServer: a.mediaServer,
    version: a.version,
    state: "online" as const,
    lastSeen: now,
  };
  // Compare-and-set steps: of the control instances applying the same announce, only the one whose
  // write brings the node online records `node.online` (ADR 0090).
  let [row] = await db
    .insert(nodes)
    .values({ id: a.id, ...fields, load: EMPTY_LOAD, firstSeen: now })
    .onConflictDoNothing({ target: nodes.id })
    .returning();
  let cameOnline = row !== undefined;
  if (!row) {
    [row] = await db
      .update(nodes)
      .set(fields)
      .where(and(eq(nodes.id, a.id), ne(nodes.state, "online")))
      .returning();
    cameOnline = row !== undefined;
  }
  if (!row) [row] = await db.update(nodes).set(fields).where(eq(nodes.id, a.id)).returning();
  if (!row) throw notFound("node", a.id); // deleted between the two writes
  if (cameOnline) await recordEvent(db, "node.online", nodeEventData(row), { nodeId: a.id });
  events?.emit("node.updated", { nodeId: a.id });
  return toNode(row);
}

/** Returns false for an unknown node (a state message before its announce). */
export async function setNodeState(
  db: Db,
  id: string,
  state: "online" | "offline",
  events?: ControlEvents,
): Promise<boolean> {
  const now = Date.now();
  const [changed] = await db
    .update(nodes)
    .set({ state, lastSeen: now })
    .where(and(eq(nodes.id, id), ne(nodes.state, state)))
    .returning();
  if (changed)
    await recordEvent(db, state === "online" ? "node.online" : "node.offline", nodeEventData(changed), {
      nodeId: id,
    });
  else {
    const done = await db
      .update(nodes)
      .set({ lastSeen: now })
      .where(eq(nodes.id, id))
      .returning({ id: nodes.id });
    if (done.length === 0) return false;
  }
  events?.emit("node.updated", { nodeId: id });
  return true;
}

/** Telemetry refreshes load and lastSeen; it does not emit (every ~2 s per node would be noise). */
export async function recordNodeTelemetry(db: Db, id: string, t: NodeTelemetry): Promise<boolean> {
  const load = {
    used: t.loadUsed,
    cpu: t.cpu,
    ingressBps: t.ingressBps,
    egressBps: t.egressBps,
    streams: t.streams.length,
  };
  const done = await db
    .update(nodes)
    .set({ load, lastSeen: Date.now() })
    .where(eq(nodes.id, id))
    .returning({ id: nodes.id });
  return done.length > 0;
}

/** Load units each node carries now (scheduler/load.ts): live or reserved streams, not idle ones. */
export async function carriedLoadsNow(
  db: Db,
  exceptStreamId?: string,
  now = Date.now(),
): Promise<Map<string, number>> {
  const rows = await db
    .select({
      id: streams.id,
      nodeId: streams.nodeId,
      transcodeNodeId: streams.transcodeNodeId,
      status: streams.status,
      source: streams.source,
      reservedUntil: streams.reservedUntil,
      admitted: streams.admittedRenditions,
      profile: profiles.spec,
    })
    .from(streams)
    .innerJoin(profiles, eq(streams.profileId, profiles.id))
    .where(isNotNull(streams.nodeId));
  return carriedLoads(
    rows.map((r) => ({ ...r, pull: r.source !== null })),
    now,
    exceptStreamId,
  );
}

/**
 * The placement view of a node: used = the larger of what it carries (live and reserved streams)
 * and the load it reports, so neither an encoder heavier than its estimate nor a stream that has
 * just been admitted (and is not encoding yet) is missed.
 */
function toNodeView(r: NodeRow, carried: number): NodeView {
  return {
    id: r.id,
    lat: r.lat,
    lon: r.lon,
    region: r.region,
    online: r.state === "online",
    cordoned: r.cordoned,
    draining: r.draining,
    capacity: r.capacity.loadUnits,
    used: Math.max(carried, r.load.used),
    relayUrl: r.ingest.relay ?? null,
  };
}

export async function nodeViews(
  db: Db,
  exceptStreamId?: string,
  now = Date.now(),
): Promise<{ rows: NodeRow[]; views: NodeView[] }> {
  const [rows, loads] = await Promise.all([
    db.select().from(nodes),
    carriedLoadsNow(db, exceptStreamId, now),
  ]);
  return { rows, views: rows.map((r) => toNodeView(r, loads.get(r.id) ?? 0)) };
}
