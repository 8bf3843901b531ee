/**
 * Where a stream runs and how it is doing: the claim of a publish, status reports, the
 * scheduler's assignments, unassigning a forgotten node. With service.ts the only writer of
 * stream rows.
 */
import { reconnectWindowSeconds, type StreamStatusMessage, type StreamStatusValue } from "@dionysia/shared";
import { and, eq, isNull, ne, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { nodes, profiles, type StreamRow, streams } from "../db/schema.ts";
import type { ControlEvents } from "../events.ts";
import type { Assignment } from "../scheduler/reconcile.ts";
import { recordEvent, streamEventData, streamTransitions } from "../webhooks/outbox.ts";
import { getStreamRow } from "./service.ts";

/**
 * The outbox events of one stream's status change (ADR 0090), recorded right after the write.
 * Writers change status with a compare-and-set on the status they read, so of the control
 * instances applying the same report only one sees the transition, and records it.
 */
async function recordTransitions(db: Db, before: StreamStatusValue | null, after: StreamRow): Promise<void> {
  for (const type of streamTransitions(before, after.status))
    await recordEvent(db, type, streamEventData(after), { streamId: after.id });
}

/** Reads a stream's status, then runs `write` conditioned on it; again when another writer won the race. */
async function withStatus<T>(
  db: Db,
  id: string,
  write: (status: StreamStatusValue) => Promise<T | undefined>,
): Promise<{ before: StreamStatusValue; row: T } | undefined> {
  for (let i = 0; i < 5; i++) {
    const [was] = await db.select({ status: streams.status }).from(streams).where(eq(streams.id, id));
    if (!was) return undefined;
    const row = await write(was.status);
    if (row !== undefined) return { before: was.status, row };
    const [now] = await db.select({ status: streams.status }).from(streams).where(eq(streams.id, id));
    if (!now || now.status === was.status) return undefined; // refused by the write's own condition
  }
  return undefined;
}

/** Assigns (or with null, unassigns) a stream; returns false for an unknown stream. */
export async function assignStream(
  db: Db,
  streamId: string,
  nodeId: string | null,
  events?: ControlEvents,
): Promise<boolean> {
  const before = await getStreamRow(db, streamId);
  if (!before) return false;
  const done = await db
    .update(streams)
    .set({ nodeId, updatedAt: Date.now() })
    .where(eq(streams.id, streamId))
    .returning({ id: streams.id });
  if (done.length === 0) return false;
  if (before.nodeId !== nodeId)
    events?.emit("stream.assigned", { streamId, nodeId, previousNodeId: before.nodeId });
  return true;
}

/** Assigns an unplaced stream to `nodeId`; false when it already had a node (or is unknown). */
export async function reserveStream(
  db: Db,
  streamId: string,
  nodeId: string,
  events?: ControlEvents,
): Promise<boolean> {
  const done = await db
    .update(streams)
    .set({ nodeId, updatedAt: Date.now() })
    .where(and(eq(streams.id, streamId), isNull(streams.nodeId)))
    .returning({ id: streams.id });
  if (done.length === 0) return false;
  events?.emit("stream.assigned", { streamId, nodeId, previousNodeId: null });
  return true;
}

export interface Claim {
  streamId: string;
  nodeId: string;
  /** Overflow: the neighbour that transcodes (null: `nodeId` does both). */
  transcodeNodeId: string | null;
  /** Rungs admitted (null: the whole ladder). */
  admitted: string[] | null;
  /** The ingest reservation: capacity is held until then while the stream is not live yet. */
  reservedUntil: number;
}

/**
 * A publish claims the stream for `nodeId` (ADR 0013). One conditional UPDATE: it succeeds when
 * the stream is unassigned, already on this node, not live, or its node is not online, so two
 * nodes racing for the same stream cannot both win. False: live on another healthy node.
 */
export async function claimStream(db: Db, c: Claim, events?: ControlEvents): Promise<boolean> {
  const before = await getStreamRow(db, c.streamId);
  if (!before) return false;
  const claimed = await withStatus(db, c.streamId, async (status) => {
    const [row] = await db
      .update(streams)
      .set({
        nodeId: c.nodeId,
        transcodeNodeId: c.transcodeNodeId,
        admittedRenditions: c.admitted,
        // What the node serves is unknown until it reports; until then the admitted ladder shows.
        servedRenditions: null,
        reservedUntil: c.reservedUntil,
        // Back on the node that holds its reconnect window: it stays routed there until the node
        // reports it live again (its playlists go on); anywhere else it starts afresh.
        status: sql`case when ${streams.status} = 'reconnecting' and ${streams.nodeId} = ${c.nodeId} then 'reconnecting' else 'starting' end`,
        updatedAt: Date.now(),
      })
      .where(
        and(
          eq(streams.id, c.streamId),
          or(
            sql`${streams.nodeId} is null`,
            eq(streams.nodeId, c.nodeId),
            ne(streams.status, "live"),
            sql`not exists (select 1 from ${nodes} where ${nodes.id} = ${streams.nodeId} and ${nodes.state} = 'online')`,
          ),
          eq(streams.status, status),
        ),
      )
      .returning();
    return row;
  });
  if (!claimed) return false;
  await recordTransitions(db, claimed.before, claimed.row);
  if (before.nodeId !== c.nodeId)
    events?.emit("stream.assigned", {
      streamId: c.streamId,
      nodeId: c.nodeId,
      previousNodeId: before.nodeId,
    });
  else if (
    before.transcodeNodeId !== c.transcodeNodeId ||
    JSON.stringify(before.admittedRenditions) !== JSON.stringify(c.admitted)
  )
    events?.emit("stream.updated", { streamId: c.streamId, nodeId: c.nodeId });
  return true;
}

/**
 * Applies a stream status report (MQTT). Only the node serving the stream may set it: not a late
 * message from the old node after a failover, nor the ingest-only node of an overflow pair.
 * A report of `idle` or `error` after `live` or `starting` starts the reconnect grace (the
 * stream keeps its capacity `graceMs` longer, instead of the rest of its ingest reservation);
 * `renditions`, when reported, is what the node serves now. False: not this node's stream.
 */
export async function recordStreamStatus(db: Db, s: StreamStatusMessage, graceMs: number): Promise<boolean> {
  const now = Date.now();
  // Reconnecting: the capacity is held for the whole reconnect window (the streamer is coming back).
  const windowEnd = s.status === "reconnecting" ? now + (await reconnectWindowMs(db, s.id)) : undefined;
  const recordingErrorBefore = s.recordingError
    ? (await getStreamRow(db, s.id))?.stats?.recordingError
    : undefined;
  const done = await withStatus(db, s.id, async (status) => {
    const [row] = await db
      .update(streams)
      .set({
        status: s.status,
        updatedAt: now,
        stats: {
          ...(s.bitrateKbps !== undefined ? { bitrateKbps: s.bitrateKbps } : {}),
          ...(s.fps !== undefined ? { fps: s.fps } : {}),
          ...(s.speed !== undefined ? { speed: s.speed } : {}),
          ...(s.lastError ? { lastError: s.lastError } : {}),
          ...(s.recordingError ? { recordingError: s.recordingError } : {}),
          reportedAt: s.ts,
        },
        ...(s.renditions ? { servedRenditions: s.renditions } : {}),
        ...(s.status === "live" ? { liveNodeId: s.nodeId } : {}),
        // The publisher left (or never got going): only the grace is held from now on.
        ...(windowEnd !== undefined ? { reservedUntil: windowEnd } : {}),
        ...(s.status === "idle" || s.status === "error"
          ? {
              reservedUntil: sql`case when ${streams.status} in ('live', 'starting') then ${now + graceMs} else ${streams.reservedUntil} end`,
            }
          : {}),
      })
      .where(
        and(
          eq(streams.id, s.id),
          or(
            eq(streams.transcodeNodeId, s.nodeId),
            and(isNull(streams.transcodeNodeId), eq(streams.nodeId, s.nodeId)),
          ),
          eq(streams.status, status),
        ),
      )
      .returning();
    return row;
  });
  if (!done) return false;
  await recordTransitions(db, done.before, done.row);
  // A recording that stopped (a full disk) is a `stream.error` while the stream stays live.
  if (s.recordingError && s.recordingError !== recordingErrorBefore)
    await recordEvent(
      db,
      "stream.error",
      { ...streamEventData(done.row), error: `recording stopped: ${s.recordingError}` },
      { streamId: s.id },
    );
  return true;
}

/** The reconnect window that applies to a stream, in ms (0 for an unknown one). */
async function reconnectWindowMs(db: Db, id: string): Promise<number> {
  const [row] = await db
    .select({ own: streams.reconnectWindowSeconds, spec: profiles.spec })
    .from(streams)
    .innerJoin(profiles, eq(streams.profileId, profiles.id))
    .where(eq(streams.id, id));
  return row ? reconnectWindowSeconds({ reconnectWindowSeconds: row.own }, row.spec) * 1000 : 0;
}

/**
 * Records the status an origin reports; returns false for an unknown stream. No event: status
 * comes from the MQTT layer itself and changes neither desired state nor routes.
 */
export async function setStreamStatus(db: Db, streamId: string, status: StreamStatusValue): Promise<boolean> {
  const done = await db
    .update(streams)
    .set({ status, updatedAt: Date.now() })
    .where(eq(streams.id, streamId))
    .returning({ id: streams.id });
  return done.length > 0;
}

/**
 * Writes the reconcile pass's decisions in one transaction. A stream on a new serving node is
 * `starting` (routes wait for its live report), an unassigned one `idle`. `before`: each stream's
 * assignment as the pass saw it.
 */
export async function applyAssignments(
  db: Db,
  changes: ReadonlyMap<string, Assignment>,
  before: ReadonlyMap<string, Assignment & { status?: StreamStatusValue; reconnectWindowMs?: number }>,
): Promise<void> {
  const moved: string[] = [];
  const now = Date.now();
  await db.transaction(async (tx) => {
    for (const [id, a] of changes) {
      const was = before.get(id);
      const isMove = was?.nodeId !== a.nodeId || was?.transcodeNodeId !== a.transcodeNodeId;
      if (isMove) moved.push(id);
      // A push stream whose node died while it was up: its streamer will reconnect (to another
      // node), so it waits out its reconnect window instead of ending now.
      const waits =
        isMove &&
        !a.nodeId &&
        (was?.reconnectWindowMs ?? 0) > 0 &&
        (was?.status === "live" || was?.status === "starting" || was?.status === "reconnecting");
      await tx
        .update(streams)
        .set({
          nodeId: a.nodeId,
          transcodeNodeId: a.transcodeNodeId,
          updatedAt: now,
          ...(waits
            ? {
                status: "reconnecting" as const,
                ...(was?.status !== "reconnecting"
                  ? { reservedUntil: now + (was?.reconnectWindowMs ?? 0) }
                  : {}),
              }
            : isMove
              ? { status: a.nodeId ? ("starting" as const) : ("idle" as const) }
              : {}),
        })
        .where(eq(streams.id, id));
    }
  });
  // Only the scheduler leader moves streams, so the status it planned from is the one it changed.
  for (const id of moved) {
    const row = await getStreamRow(db, id);
    if (row) await recordTransitions(db, before.get(id)?.status ?? null, row);
  }
}

/**
 * Ends the reconnect windows nobody else will end: streams `reconnecting` past their window with
 * no node, or on a node that is not online (an origin ends its own windows and reports `idle`).
 * Returns the ids it set `idle`.
 */
export async function closeExpiredWindows(db: Db, now = Date.now()): Promise<string[]> {
  const rows = await db
    .update(streams)
    .set({ status: "idle", updatedAt: now })
    .where(
      and(
        eq(streams.status, "reconnecting"),
        sql`coalesce(${streams.reservedUntil}, 0) <= ${now}`,
        or(
          isNull(streams.nodeId),
          sql`not exists (select 1 from ${nodes} where ${nodes.id} = ${streams.nodeId} and ${nodes.state} = 'online')`,
        ),
      ),
    )
    .returning();
  for (const row of rows) await recordTransitions(db, "reconnecting", row);
  return rows.map((r) => r.id);
}

/**
 * Takes every stream off a node that is being forgotten (DELETE /v1/nodes/{id}): streams it
 * carried are unassigned (placed again on their next publish, or by the scheduler for pull
 * streams), overflow streams it transcoded lose their transcode peer. Returns the streams whose
 * `nodeId` it cleared.
 */
export async function unassignNode(db: Db, nodeId: string): Promise<string[]> {
  const now = Date.now();
  const was = await db
    .select({ id: streams.id, status: streams.status })
    .from(streams)
    .where(eq(streams.nodeId, nodeId));
  const [carried] = await db.batch([
    db
      .update(streams)
      .set({ nodeId: null, transcodeNodeId: null, status: "idle", updatedAt: now })
      .where(eq(streams.nodeId, nodeId))
      .returning(),
    db
      .update(streams)
      .set({ transcodeNodeId: null, updatedAt: now })
      .where(eq(streams.transcodeNodeId, nodeId)),
    db.update(streams).set({ liveNodeId: null }).where(eq(streams.liveNodeId, nodeId)),
  ]);
  const before = new Map(was.map((r) => [r.id, r.status]));
  for (const row of carried) await recordTransitions(db, before.get(row.id) ?? null, row);
  return carried.map((r) => r.id);
}
