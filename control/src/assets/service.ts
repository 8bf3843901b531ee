/**
 * VOD assets (ADR 0095): the one writer of the `assets` table. Origins report the assets they
 * hold (MQTT, retained, under their own tree); a new one is recorded with `recording.ready`. The
 * API lists, shows and deletes them; a delete (or the stream's retention) marks the row `deleted`
 * and the node that holds the files is told, in its desired state, to remove them, until it
 * reports them gone.
 */
import { type AssetReport, DEFAULT_RETENTION_DAYS } from "@dionysia/shared";
import { and, desc, eq, inArray, isNull, lt, or, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { type AssetRow, assets, streams } from "../db/schema.ts";
import { notFound } from "../errors/index.ts";
import { decodeCursor, encodeCursor } from "../pagination.ts";
import { recordEvent } from "../webhooks/outbox.ts";

const iso = (ms: number) => new Date(ms).toISOString();

export function toAsset(r: AssetRow, playbackBaseUrl: string) {
  return {
    id: r.id,
    streamId: r.streamId ?? "",
    nodeId: r.nodeId,
    status: r.status,
    durationSeconds: r.durationSeconds,
    renditions: r.renditions,
    bytes: r.bytes,
    sessions: r.sessions,
    startedAt: iso(r.startedAt),
    endedAt: iso(r.endedAt),
    createdAt: iso(r.createdAt),
    playback: { hls: `${playbackBaseUrl.replace(/\/$/, "")}/vod/${r.id}/master.m3u8` },
  };
}

/**
 * A node reports an asset it holds. New: inserted `ready` (with the stream's playback policy) and
 * `recording.ready` recorded. Known: the figures are refreshed, a deleted one stays deleted. The
 * topic's node must be the report's. False: dropped (another node's, or a stream that is gone).
 */
export async function recordAssetReport(db: Db, topicNodeId: string, r: AssetReport): Promise<boolean> {
  if (r.nodeId !== topicNodeId) return false;
  const [known] = await db.select().from(assets).where(eq(assets.id, r.id));
  if (known) {
    if (known.nodeId !== r.nodeId) return false;
    await db
      .update(assets)
      .set({ durationSeconds: r.durationSeconds, bytes: r.bytes, segments: r.segments })
      .where(eq(assets.id, r.id));
    return true;
  }
  const [stream] = await db
    .select({ policy: streams.playbackPolicy })
    .from(streams)
    .where(eq(streams.id, r.streamId));
  if (!stream) return false;
  const now = Date.now();
  const [row] = await db
    .insert(assets)
    .values({
      id: r.id,
      streamId: r.streamId,
      nodeId: r.nodeId,
      status: "ready",
      playbackPolicy: stream.policy,
      durationSeconds: r.durationSeconds,
      renditions: r.renditions,
      segments: r.segments,
      bytes: r.bytes,
      sessions: r.sessions,
      startedAt: r.startedAt,
      endedAt: r.endedAt,
      createdAt: now,
    })
    .onConflictDoNothing()
    .returning();
  // Of two control instances applying the same report, only the one that inserted records it.
  if (row)
    await recordEvent(db, "recording.ready", assetEventData(row), { streamId: r.streamId, nodeId: r.nodeId });
  return true;
}

export function assetEventData(r: AssetRow): Record<string, unknown> {
  return {
    id: r.id,
    streamId: r.streamId,
    nodeId: r.nodeId,
    durationSeconds: r.durationSeconds,
    renditions: r.renditions,
    sessions: r.sessions,
  };
}

/** The node reports the files gone (empty retained payload): nothing more to tell it. */
export async function recordAssetRemoved(db: Db, nodeId: string, id: string): Promise<void> {
  const now = Date.now();
  await db
    .update(assets)
    .set({
      removedAt: now,
      status: "deleted",
      deletedAt: sql`coalesce(${assets.deletedAt}, ${now})`,
    })
    .where(and(eq(assets.id, id), eq(assets.nodeId, nodeId)));
}

export async function listAssets(
  db: Db,
  q: { limit?: number; cursor?: string; streamId?: string },
): Promise<{ items: AssetRow[]; nextCursor: string | null }> {
  const limit = q.limit ?? 20;
  const conds: SQL[] = [eq(assets.status, "ready")];
  if (q.streamId) conds.push(eq(assets.streamId, q.streamId));
  if (q.cursor) {
    const c = decodeCursor(q.cursor);
    conds.push(
      or(
        lt(assets.createdAt, c.createdAt),
        and(eq(assets.createdAt, c.createdAt), lt(assets.id, c.id)),
      ) as SQL,
    );
  }
  const rows = await db
    .select()
    .from(assets)
    .where(and(...conds))
    .orderBy(desc(assets.createdAt), desc(assets.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page,
    nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null,
  };
}

export async function getAsset(db: Db, id: string): Promise<AssetRow> {
  const [row] = await db
    .select()
    .from(assets)
    .where(and(eq(assets.id, id), eq(assets.status, "ready")));
  if (!row) throw notFound("asset", id);
  return row;
}

export async function deleteAsset(db: Db, id: string): Promise<AssetRow> {
  const [row] = await db
    .update(assets)
    .set({ status: "deleted", deletedAt: Date.now() })
    .where(and(eq(assets.id, id), eq(assets.status, "ready")))
    .returning();
  if (!row) throw notFound("asset", id);
  return row;
}

/** Assets past their stream's retention (DEFAULT_RETENTION_DAYS for a stream gone): deleted. */
export async function expireAssets(db: Db, now = Date.now()): Promise<string[]> {
  const days = sql`coalesce((select ${streams.recordingRetentionDays} from ${streams} where ${streams.id} = ${assets.streamId}), ${DEFAULT_RETENTION_DAYS})`;
  const rows = await db
    .update(assets)
    .set({ status: "deleted", deletedAt: now })
    .where(and(eq(assets.status, "ready"), sql`${assets.endedAt} + ${days} * 86400000 <= ${now}`))
    .returning({ id: assets.id });
  return rows.map((r) => r.id);
}

/** What each node must still remove: deleted assets whose files it has not reported gone. */
export async function pendingRemovals(db: Db): Promise<Map<string, string[]>> {
  const rows = await db
    .select({ id: assets.id, nodeId: assets.nodeId })
    .from(assets)
    .where(and(eq(assets.status, "deleted"), isNull(assets.removedAt)))
    .orderBy(assets.id)
    .limit(10_000);
  const out = new Map<string, string[]>();
  for (const r of rows) {
    if (!r.nodeId) continue;
    const list = out.get(r.nodeId) ?? [];
    list.push(r.id);
    out.set(r.nodeId, list);
  }
  return out;
}

/** Ready assets with the node that holds them (their routes: scheduler/routes.ts). */
export async function routedAssets(db: Db, ids?: string[]) {
  return db
    .select({ id: assets.id, nodeId: assets.nodeId, policy: assets.playbackPolicy })
    .from(assets)
    .where(ids ? and(eq(assets.status, "ready"), inArray(assets.id, ids)) : eq(assets.status, "ready"))
    .orderBy(assets.id);
}
