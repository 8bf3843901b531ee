/**
 * The outbox (ADR 0090): the one writer of `events`, `webhook_deliveries` and `webhook_attempts`.
 * A fact's writer calls `recordEvent` right after its commit (a conditional update tells it the fact
 * is its own to report), which stores the event and one pending delivery per enabled webhook that
 * wants the type in one batch. No interactive transactions: libSQL's local client waits for a busy
 * lock synchronously, so a transaction held across awaits stalls every other writer of the process. The
 * dispatcher (dispatcher.ts) claims due deliveries with a conditional update and records each
 * attempt here; `GET /v1/events` and `GET /v1/webhooks/{id}/deliveries` read from here.
 */
import { newId, newSortableId, type StreamStatusValue } from "@dionysia/shared";
import { and, asc, desc, eq, gte, inArray, lt, or, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import {
  type AttemptRow,
  type DeliveryRow,
  type EventRow,
  events,
  type NodeRow,
  type StreamRow,
  webhookAttempts,
  webhookDeliveries,
  webhooks,
} from "../db/schema.ts";
import { ApiError, notFound } from "../errors/index.ts";
import { decodeCursor, encodeCursor } from "../pagination.ts";
import type { EventType } from "./model.ts";

const iso = (ms: number) => new Date(ms).toISOString();

// --- what an event says ---------------------------------------------------------------------

export function streamEventData(s: StreamRow): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    status: s.status,
    profileId: s.profileId,
    playbackPolicy: s.playbackPolicy,
    nodeId: s.nodeId,
    ...(s.status === "error" && s.stats?.lastError ? { error: s.stats.lastError } : {}),
  };
}

export function nodeEventData(
  n: Pick<NodeRow, "id" | "region" | "state" | "publicUrl">,
): Record<string, unknown> {
  return { id: n.id, region: n.region, state: n.state, publicUrl: n.publicUrl };
}

const connected = (s: StreamStatusValue | null) => s === "starting" || s === "live";

/**
 * The events of one stream status change, the one rule for every writer of stream status:
 * connected (a publisher or pull began: into starting/live), active (into live: playable),
 * disconnected (out of starting/live), error (into error), idle (into idle). None when unchanged.
 */
export function streamTransitions(before: StreamStatusValue | null, after: StreamStatusValue): EventType[] {
  if (before === after) return [];
  const out: EventType[] = [];
  if (!connected(before) && connected(after)) out.push("stream.connected");
  if (after === "live") out.push("stream.active");
  if (connected(before) && !connected(after)) out.push("stream.disconnected");
  if (after === "error") out.push("stream.error");
  if (after === "idle") out.push("stream.idle");
  return out;
}

// --- writing --------------------------------------------------------------------------------

/** Stores one event and a pending delivery for each enabled webhook that wants its type (one batch). */
export async function recordEvent(
  db: Db,
  type: EventType,
  data: Record<string, unknown>,
  about: { streamId?: string; nodeId?: string } = {},
  now = Date.now(),
): Promise<string> {
  const id = newSortableId("evt", now);
  await db.batch([
    db.insert(events).values({
      id,
      type,
      streamId: about.streamId ?? null,
      nodeId: about.nodeId ?? null,
      data,
      createdAt: now,
    }),
    db.run(sql`insert into ${webhookDeliveries}
      (id, event_id, webhook_id, event_type, state, attempts, next_attempt_at, created_at, updated_at)
      select 'whd_' || lower(hex(randomblob(10))), ${id}, w.id, ${type}, 'pending', 0, ${now}, ${now}, ${now}
      from ${webhooks} w where w.enabled = 1
        and (w.event_types is null or exists (select 1 from json_each(w.event_types) where value = ${type}))`),
  ]);
  return id;
}

/** The JSON body of a delivery and of `GET /v1/events` items. */
export function eventBody(e: EventRow): {
  id: string;
  type: EventType;
  createdAt: string;
  data: Record<string, unknown>;
} {
  return { id: e.id, type: e.type as EventType, createdAt: iso(e.createdAt), data: e.data };
}

// --- the dispatcher's side -------------------------------------------------------------------

export interface Claimed {
  delivery: DeliveryRow;
  event: EventRow;
  url: string;
  secret: string;
}

/**
 * Claims up to `limit` due deliveries (pending and due, or sending with an expired claim) of
 * enabled webhooks for `holder` until `claimedUntil`. One transaction (BEGIN IMMEDIATE) with a
 * conditional update: two instances can never claim the same attempt.
 */
export async function claimDue(
  db: Db,
  holder: string,
  limit: number,
  claimedUntil: number,
  now = Date.now(),
): Promise<Claimed[]> {
  if (limit <= 0) return [];
  const due = or(
    and(eq(webhookDeliveries.state, "pending"), sql`${webhookDeliveries.nextAttemptAt} <= ${now}`),
    and(eq(webhookDeliveries.state, "sending"), sql`${webhookDeliveries.claimedUntil} <= ${now}`),
  ) as SQL;
  // A read first, so an idle outbox costs no write; then the claim is one conditional update:
  // a row another instance claimed in between is no longer due and is left out.
  const candidates = await db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .innerJoin(webhooks, and(eq(webhooks.id, webhookDeliveries.webhookId), eq(webhooks.enabled, true)))
    .where(due)
    .orderBy(webhookDeliveries.nextAttemptAt)
    .limit(limit);
  if (candidates.length === 0) return [];
  const claimed = await db
    .update(webhookDeliveries)
    .set({
      state: "sending",
      claimedBy: holder,
      claimedUntil,
      attempts: sql`${webhookDeliveries.attempts} + 1`,
      updatedAt: now,
    })
    .where(
      and(
        due,
        inArray(
          webhookDeliveries.id,
          candidates.map((r) => r.id),
        ),
      ),
    )
    .returning();
  if (claimed.length === 0) return [];
  const [evs, hooks] = await Promise.all([
    db
      .select()
      .from(events)
      .where(inArray(events.id, [...new Set(claimed.map((d) => d.eventId))])),
    db
      .select({ id: webhooks.id, url: webhooks.url, secret: webhooks.secret })
      .from(webhooks)
      .where(inArray(webhooks.id, [...new Set(claimed.map((d) => d.webhookId))])),
  ]);
  const evById = new Map(evs.map((e) => [e.id, e]));
  const hookById = new Map(hooks.map((h) => [h.id, h]));
  const out: Claimed[] = [];
  for (const d of claimed) {
    const event = evById.get(d.eventId);
    const hook = hookById.get(d.webhookId);
    if (event && hook) out.push({ delivery: d, event, url: hook.url, secret: hook.secret });
  }
  return out;
}

export interface AttemptResult {
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  responseExcerpt: string;
  /** delivered, retry at `nextAttemptAt`, or failed (given up). */
  outcome: "delivered" | "retry" | "failed";
  nextAttemptAt: number | null;
}

/**
 * Records one attempt and moves the delivery on, only while `holder` still holds this claim
 * (same holder, same attempt number): a claim that expired and was taken over is left alone.
 */
export async function completeAttempt(
  db: Db,
  d: DeliveryRow,
  holder: string,
  r: AttemptResult,
): Promise<boolean> {
  const now = Date.now();
  const [done] = await db.batch([
    db
      .update(webhookDeliveries)
      .set({
        state: r.outcome === "retry" ? "pending" : r.outcome,
        nextAttemptAt: r.outcome === "retry" ? r.nextAttemptAt : null,
        claimedBy: null,
        claimedUntil: null,
        lastStatusCode: r.statusCode,
        lastError: r.error,
        ...(r.outcome === "delivered" ? { deliveredAt: now } : {}),
        updatedAt: now,
      })
      .where(
        and(
          eq(webhookDeliveries.id, d.id),
          eq(webhookDeliveries.claimedBy, holder),
          eq(webhookDeliveries.attempts, d.attempts),
          eq(webhookDeliveries.state, "sending"),
        ),
      )
      .returning({ id: webhookDeliveries.id }),
    // The attempt happened either way, so it is always in the history.
    db.insert(webhookAttempts).values({
      id: newId("wha", 20),
      deliveryId: d.id,
      n: d.attempts,
      startedAt: r.startedAt,
      durationMs: r.durationMs,
      statusCode: r.statusCode,
      error: r.error,
      responseExcerpt: r.responseExcerpt,
    }),
  ]);
  return done.length > 0;
}

/** Deliveries waiting for an attempt (the outbox backlog metric). */
export async function backlog(db: Db): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)` })
    .from(webhookDeliveries)
    .where(inArray(webhookDeliveries.state, ["pending", "sending"]));
  return Number(row?.n ?? 0);
}

/** Retention: events older than `before` go, with their deliveries and attempts. */
export async function pruneEvents(db: Db, before: number): Promise<number> {
  const old = await db.select({ id: events.id }).from(events).where(lt(events.createdAt, before)).limit(5000);
  if (old.length === 0) return 0;
  const ids = old.map((e) => e.id);
  const ds = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(inArray(webhookDeliveries.eventId, ids));
  await db.batch([
    db.delete(webhookAttempts).where(inArray(webhookAttempts.deliveryId, ds)),
    db.delete(webhookDeliveries).where(inArray(webhookDeliveries.eventId, ids)),
    db.delete(events).where(inArray(events.id, ids)),
  ]);
  return ids.length;
}

/** A webhook and its deliveries and attempts, in one batch (DELETE /v1/webhooks/{id}). */
export async function deleteWebhookAndDeliveries(db: Db, webhookId: string): Promise<boolean> {
  const ds = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.webhookId, webhookId));
  const [, , gone] = await db.batch([
    db.delete(webhookAttempts).where(inArray(webhookAttempts.deliveryId, ds)),
    db.delete(webhookDeliveries).where(eq(webhookDeliveries.webhookId, webhookId)),
    db.delete(webhooks).where(eq(webhooks.id, webhookId)).returning({ id: webhooks.id }),
  ]);
  return gone.length > 0;
}

// --- reading (API) ----------------------------------------------------------------------------

/** Newest first; the cursor is the (createdAt, id) of the last item, stable under inserts. */
export async function listEvents(
  db: Db,
  q: { limit?: number; cursor?: string; type?: EventType; streamId?: string },
): Promise<{ items: ReturnType<typeof eventBody>[]; nextCursor: string | null }> {
  const limit = q.limit ?? 20;
  const conds: SQL[] = [];
  if (q.type) conds.push(eq(events.type, q.type));
  if (q.streamId) conds.push(eq(events.streamId, q.streamId));
  if (q.cursor) {
    const c = decodeCursor(q.cursor);
    conds.push(
      or(
        lt(events.createdAt, c.createdAt),
        and(eq(events.createdAt, c.createdAt), lt(events.id, c.id)),
      ) as SQL,
    );
  }
  const rows = await db
    .select()
    .from(events)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(desc(events.createdAt), desc(events.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map(eventBody),
    nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null,
  };
}

function toAttempt(a: AttemptRow) {
  return {
    n: a.n,
    at: iso(a.startedAt),
    durationMs: a.durationMs,
    statusCode: a.statusCode,
    error: a.error,
    responseExcerpt: a.responseExcerpt,
  };
}

function toDelivery(d: DeliveryRow, history: AttemptRow[]) {
  return {
    id: d.id,
    webhookId: d.webhookId,
    eventId: d.eventId,
    eventType: d.eventType as EventType,
    state: d.state,
    attempts: d.attempts,
    nextAttemptAt: d.state === "pending" && d.nextAttemptAt !== null ? iso(d.nextAttemptAt) : null,
    deliveredAt: d.deliveredAt === null ? null : iso(d.deliveredAt),
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    createdAt: iso(d.createdAt),
    history: history.map(toAttempt),
  };
}

export type DeliveryView = ReturnType<typeof toDelivery>;

async function withHistory(db: Db, rows: DeliveryRow[]): Promise<DeliveryView[]> {
  if (rows.length === 0) return [];
  const attempts = await db
    .select()
    .from(webhookAttempts)
    .where(
      inArray(
        webhookAttempts.deliveryId,
        rows.map((r) => r.id),
      ),
    )
    .orderBy(desc(webhookAttempts.n));
  const by = new Map<string, AttemptRow[]>();
  for (const a of attempts) {
    const list = by.get(a.deliveryId) ?? [];
    if (list.length < 10) list.push(a);
    by.set(a.deliveryId, list);
  }
  return rows.map((r) => toDelivery(r, by.get(r.id) ?? []));
}

export async function listDeliveries(
  db: Db,
  webhookId: string,
  q: { limit?: number; cursor?: string; state?: DeliveryRow["state"] },
): Promise<{ items: DeliveryView[]; nextCursor: string | null }> {
  const limit = q.limit ?? 20;
  const conds: SQL[] = [eq(webhookDeliveries.webhookId, webhookId)];
  if (q.state) conds.push(eq(webhookDeliveries.state, q.state));
  if (q.cursor) {
    const c = decodeCursor(q.cursor);
    conds.push(
      or(
        lt(webhookDeliveries.createdAt, c.createdAt),
        and(eq(webhookDeliveries.createdAt, c.createdAt), lt(webhookDeliveries.id, c.id)),
      ) as SQL,
    );
  }
  const rows = await db
    .select()
    .from(webhookDeliveries)
    .where(and(...conds))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: await withHistory(db, page),
    nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null,
  };
}

/**
 * Resend: the delivery is due at once and retried for another `retryForMs`. 409 while an attempt
 * is in flight.
 */
export async function resendDelivery(
  db: Db,
  webhookId: string,
  deliveryId: string,
  retryForMs: number,
): Promise<DeliveryView> {
  const now = Date.now();
  const [row] = await db
    .update(webhookDeliveries)
    .set({ state: "pending", nextAttemptAt: now, retryUntil: now + retryForMs, updatedAt: now })
    .where(
      and(
        eq(webhookDeliveries.id, deliveryId),
        eq(webhookDeliveries.webhookId, webhookId),
        inArray(webhookDeliveries.state, ["pending", "delivered", "failed"]),
      ),
    )
    .returning();
  if (!row) {
    const [exists] = await db
      .select({ id: webhookDeliveries.id })
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.webhookId, webhookId)));
    if (!exists) throw notFound("delivery", deliveryId);
    throw new ApiError(
      409,
      "delivery_in_flight",
      "an attempt of this delivery is in flight; try again shortly",
    );
  }
  const [view] = await withHistory(db, [row]);
  return view as DeliveryView;
}

/** Oldest first: events created at or after `sinceMs` (the MQTT event feed reads these). */
export async function eventsSince(db: Db, sinceMs: number, limit: number): Promise<EventRow[]> {
  return db
    .select()
    .from(events)
    .where(gte(events.createdAt, sinceMs))
    .orderBy(asc(events.createdAt), asc(events.id))
    .limit(limit);
}

/** createdAt of the newest event, or undefined for none. */
export async function newestEventAt(db: Db): Promise<number | undefined> {
  const [row] = await db
    .select({ at: events.createdAt })
    .from(events)
    .orderBy(desc(events.createdAt))
    .limit(1);
  return row?.at;
}
