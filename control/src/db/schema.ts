/**
 * The control database (libSQL through drizzle). Timestamps are integer milliseconds; JSON
 * columns hold the shared TypeBox shapes. Changing this file means `bunx drizzle-kit generate`
 * from control/ and committing the new migration in control/drizzle/.
 */
import type { NodeCapacity, NodeIngestEndpoints, ProfileSpec, PublicJwk } from "@dionysia/shared";
import type { Static } from "@sinclair/typebox";
import { index, integer, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const apiKeys = sqliteTable("api_keys", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  role: text("role", { enum: ["admin", "user"] }).notNull(),
  keyHash: text("key_hash").notNull().unique(),
  createdAt: integer("created_at").notNull(),
  revokedAt: integer("revoked_at"),
});

export const profiles = sqliteTable("profiles", {
  id: text("id").primaryKey(),
  builtIn: integer("built_in", { mode: "boolean" }).notNull().default(false),
  spec: text("spec", { mode: "json" }).$type<ProfileSpec>().notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

export interface StreamStats {
  bitrateKbps?: number;
  fps?: number;
  speed?: number;
  lastError?: string;
  /** Why its recording stopped while the live stream went on (ADR 0095). */
  recordingError?: string;
  reportedAt: number;
}

export interface NodeLoad {
  used: number;
  cpu: number;
  ingressBps: number;
  egressBps: number;
  streams: number;
}

export const nodes = sqliteTable("nodes", {
  id: text("id").primaryKey(),
  region: text("region").notNull(),
  lat: real("lat").notNull(),
  lon: real("lon").notNull(),
  publicUrl: text("public_url").notNull(),
  ingest: text("ingest", { mode: "json" }).$type<Static<typeof NodeIngestEndpoints>>().notNull(),
  capacity: text("capacity", { mode: "json" }).$type<Static<typeof NodeCapacity>>().notNull(),
  encoders: text("encoders", { mode: "json" }).$type<string[]>().notNull(),
  mediaServer: text("media_server").notNull(),
  version: text("version").notNull(),
  state: text("state", { enum: ["online", "offline"] }).notNull(),
  cordoned: integer("cordoned", { mode: "boolean" }).notNull().default(false),
  draining: integer("draining", { mode: "boolean" }).notNull().default(false),
  load: text("load", { mode: "json" }).$type<NodeLoad>().notNull(),
  /** Version counter of the desired state published to this node (MQTT layer). */
  desiredVersion: integer("desired_version").notNull().default(0),
  firstSeen: integer("first_seen").notNull(),
  lastSeen: integer("last_seen").notNull(),
});

export const streams = sqliteTable(
  "streams",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    profileId: text("profile_id")
      .notNull()
      .references(() => profiles.id, { onDelete: "restrict" }),
    playbackPolicy: text("playback_policy", { enum: ["public", "signed"] }).notNull(),
    status: text("status", { enum: ["idle", "starting", "live", "error", "reconnecting"] }).notNull(),
    region: text("region"),
    lat: real("lat"),
    lon: real("lon"),
    source: text("source"),
    /** The stream's own reconnect window in seconds (null: its profile's; shared reconnect-window.ts). */
    reconnectWindowSeconds: integer("reconnect_window_seconds"),
    /** Each session becomes a VOD asset (ADR 0095); sent in desired state. */
    record: integer("record", { mode: "boolean" }).notNull().default(false),
    /** Its assets are deleted this many days after they end (null: DEFAULT_RETENTION_DAYS). */
    recordingRetentionDays: integer("recording_retention_days"),
    nodeId: text("node_id").references(() => nodes.id, { onDelete: "set null" }),
    /**
     * Overflow: the node that transcodes (role `transcode`) while `nodeId` only ingests (role
     * `ingest`). Null when `nodeId` does both (role `origin`).
     */
    transcodeNodeId: text("transcode_node_id").references(() => nodes.id, { onDelete: "set null" }),
    /**
     * Embedded media server: the stream's own SRT listener port, assigned once by control at
     * creation (STREAM_SRT_PORT_RANGE), unique, kept for the stream's life, sent in desired state.
     */
    srtPort: integer("srt_port"),
    /**
     * Capacity is held until then even when the stream is not live: the ingest reservation of an
     * authorized publish, the reconnect grace after the publisher left (scheduler/load.ts).
     */
    reservedUntil: integer("reserved_until"),
    /** Rungs control admitted at the last claim (null: the whole ladder); sent in desired state. */
    admittedRenditions: text("admitted_renditions", { mode: "json" }).$type<string[]>(),
    /**
     * The node that last reported the stream live: while the stream fails over (that node is
     * offline) routes tell routers to answer 503, not 404 (scheduler/routes.ts).
     */
    liveNodeId: text("live_node_id").references(() => nodes.id, { onDelete: "set null" }),
    /** Rungs the serving node reports it serves now (it may shed some under overload). */
    servedRenditions: text("served_renditions", { mode: "json" }).$type<string[]>(),
    /** Last status report of the carrying node (bit rate, fps, encoder speed, last error). */
    stats: text("stats", { mode: "json" }).$type<StreamStats>(),
    keyHash: text("key_hash").notNull().unique(),
    /** Stored in clear: origins need it to run the embedded SRT listener (sent in desired state). */
    srtPassphrase: text("srt_passphrase").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("streams_created_idx").on(t.createdAt, t.id),
    index("streams_status_idx").on(t.status),
    index("streams_node_idx").on(t.nodeId),
    index("streams_profile_idx").on(t.profileId),
    uniqueIndex("streams_srt_port_unique").on(t.srtPort),
  ],
);

/** Leases (e.g. the scheduler's): one row per name, held by one instance until it expires. */
export const leases = sqliteTable("leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  expiresAt: integer("expires_at").notNull(),
});

/** Named counters that must survive restarts and leaders (the next SRT port to hand out). */
export const counters = sqliteTable("counters", {
  name: text("name").primaryKey(),
  value: integer("value").notNull(),
});

/**
 * Signed playback (ADR 0060): verification keys by `kid`. Users' keys keep only the public JWK
 * (the private key is returned once at creation); control's own key (`managed`) also keeps its
 * private PKCS8 PEM, to sign `POST /v1/streams/{id}/playback-tokens`. Deleting sets `revokedAt`.
 */
export const signingKeys = sqliteTable("signing_keys", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  alg: text("alg", { enum: ["ES256", "RS256"] }).notNull(),
  publicJwk: text("public_jwk", { mode: "json" }).$type<PublicJwk>().notNull(),
  managed: integer("managed", { mode: "boolean" }).notNull().default(false),
  privatePem: text("private_pem"),
  createdAt: integer("created_at").notNull(),
  revokedAt: integer("revoked_at"),
});

/**
 * Webhooks (ADR 0090). `secret` is kept in clear: control needs it to sign every delivery; it is
 * returned once (creation, rotation) and never logged. `eventTypes` null: every type.
 */
export const webhooks = sqliteTable("webhooks", {
  id: text("id").primaryKey(),
  url: text("url").notNull(),
  description: text("description").notNull().default(""),
  eventTypes: text("event_types", { mode: "json" }).$type<string[]>(),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  secret: text("secret").notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** The event log and outbox (ADR 0090): one row per fact, written with (or right after) it. */
export const events = sqliteTable(
  "events",
  {
    id: text("id").primaryKey(),
    type: text("type").notNull(),
    streamId: text("stream_id"),
    nodeId: text("node_id"),
    data: text("data", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    index("events_created_idx").on(t.createdAt, t.id),
    index("events_stream_idx").on(t.streamId, t.createdAt),
    index("events_type_idx").on(t.type, t.createdAt),
  ],
);

/** One delivery per (event, webhook); claimed by the `webhooks` lease holder with a conditional update. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    eventId: text("event_id").notNull(),
    webhookId: text("webhook_id").notNull(),
    eventType: text("event_type").notNull(),
    state: text("state", { enum: ["pending", "sending", "delivered", "failed"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at"),
    /** Retries stop after this (null: the event's time + WEBHOOK_RETRY_FOR_MS); a resend sets it. */
    retryUntil: integer("retry_until"),
    claimedBy: text("claimed_by"),
    claimedUntil: integer("claimed_until"),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    deliveredAt: integer("delivered_at"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_event_webhook").on(t.eventId, t.webhookId),
    index("webhook_deliveries_due_idx").on(t.state, t.nextAttemptAt),
    index("webhook_deliveries_webhook_idx").on(t.webhookId, t.createdAt, t.id),
  ],
);

/** Each attempt of a delivery: what the receiver answered, or why nothing came. */
export const webhookAttempts = sqliteTable(
  "webhook_attempts",
  {
    id: text("id").primaryKey(),
    deliveryId: text("delivery_id").notNull(),
    n: integer("n").notNull(),
    startedAt: integer("started_at").notNull(),
    durationMs: integer("duration_ms").notNull(),
    statusCode: integer("status_code"),
    error: text("error"),
    responseExcerpt: text("response_excerpt").notNull(),
  },
  (t) => [index("webhook_attempts_delivery_idx").on(t.deliveryId, t.n)],
);

/**
 * VOD assets (ADR 0095): what origins report they hold (MQTT, retained), one row per asset. Kept
 * as `deleted` after a delete, so the node that holds the files is told to remove them.
 */
export const assets = sqliteTable(
  "assets",
  {
    id: text("id").primaryKey(),
    /** No foreign key: an asset outlives its stream (set null by the stream's delete). */
    streamId: text("stream_id"),
    nodeId: text("node_id"),
    status: text("status", { enum: ["ready", "deleted"] }).notNull(),
    playbackPolicy: text("playback_policy", { enum: ["public", "signed"] }).notNull(),
    durationSeconds: real("duration_seconds").notNull(),
    renditions: text("renditions", { mode: "json" }).$type<string[]>().notNull(),
    segments: integer("segments").notNull(),
    bytes: integer("bytes").notNull(),
    sessions: integer("sessions").notNull(),
    startedAt: integer("started_at").notNull(),
    endedAt: integer("ended_at").notNull(),
    createdAt: integer("created_at").notNull(),
    deletedAt: integer("deleted_at"),
    /** Set when the node reported the files gone: nothing more to tell it. */
    removedAt: integer("removed_at"),
  },
  (t) => [
    index("assets_stream_idx").on(t.streamId, t.createdAt),
    index("assets_created_idx").on(t.createdAt, t.id),
  ],
);

export type AssetRow = typeof assets.$inferSelect;
export type WebhookRow = typeof webhooks.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type AttemptRow = typeof webhookAttempts.$inferSelect;
export type SigningKeyRow = typeof signingKeys.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type ProfileRow = typeof profiles.$inferSelect;
export type NodeRow = typeof nodes.$inferSelect;
export type StreamRow = typeof streams.$inferSelect;
