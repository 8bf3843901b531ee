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
    status: text("status", { enum: ["idle", "starting", "live", "error"] }).notNull(),
    region: text("region"),
    lat: real("lat"),
    lon: real("lon"),
    source: text("source"),
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

export type SigningKeyRow = typeof signingKeys.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type ProfileRow = typeof profiles.$inferSelect;
export type NodeRow = typeof nodes.$inferSelect;
export type StreamRow = typeof streams.$inferSelect;
