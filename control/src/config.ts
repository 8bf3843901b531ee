/** Control's environment variables (documented in docs/configuration.md). */
import { type ConfigOf, optional, pullPolicyConfigSpecs, v } from "@dionysia/shared";
import { authConfigSpecs } from "./auth/config.ts";
import { mqttConfigSpecs } from "./mqtt/config.ts";
import { schedulerConfigSpecs } from "./scheduler/config.ts";
import { webhookConfigSpecs } from "./webhooks/config.ts";

export const controlConfigSpec = {
  host: v.string("CONTROL_HOST", { default: "0.0.0.0", doc: "Interface the HTTP API listens on" }),
  port: v.port("CONTROL_PORT", { default: 8080, doc: "HTTP port (0 picks a free port)" }),
  databaseUrl: v.string("DATABASE_URL", {
    default: "file:./data/control.db",
    doc: "libSQL URL: `file:` (embedded), `libsql://` / `http(s)://` (sqld, Turso)",
  }),
  databaseSyncUrl: optional(
    v.url("DATABASE_SYNC_URL", {
      protocols: ["libsql", "http", "https", "ws", "wss"],
      doc: "Primary to replicate from; with a `file:` DATABASE_URL makes an embedded replica",
    }),
  ),
  databaseAuthToken: optional(
    v.secret("DATABASE_AUTH_TOKEN", { doc: "Auth token for a remote libSQL primary (Turso)" }),
  ),
  adminKey: optional(
    v.secret("DIONYSIA_ADMIN_KEY", {
      doc: "Bootstrap admin API key; when unset one is generated at first start and printed once",
    }),
  ),
  nodeKey: optional(
    v.secret("DIONYSIA_NODE_KEY", {
      doc: "Credential origins send as Bearer to POST /v1/ingest/authorize",
    }),
  ),
  routerKey: optional(
    v.secret("DIONYSIA_ROUTER_KEY", { doc: "Credential routers send as Bearer to GET /v1/routes" }),
  ),
  playbackBaseUrl: v.url("PLAYBACK_BASE_URL", {
    default: "http://localhost:8000",
    protocols: ["http", "https"],
    doc: "Router base URL used in playback URLs",
  }),
  defaultIngestHost: v.string("DEFAULT_INGEST_HOST", {
    default: "localhost",
    doc: "Host in ingest URLs while a stream is not placed on a node",
  }),
  srtPortRange: v.portRange("STREAM_SRT_PORT_RANGE", {
    default: { from: 10000, to: 10100 },
    doc: "UDP ports control assigns to streams for the embedded server's SRT listeners: one per stream, unique, kept while the stream exists. Origins listen on the port their desired state names",
  }),
  bodyLimitBytes: v.int("BODY_LIMIT_BYTES", {
    default: 1024 * 1024,
    min: 1024,
    max: 64 * 1024 * 1024,
    doc: "Largest accepted request body; bigger ones get 413",
  }),
  logLevel: v.enumOf("LOG_LEVEL", ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const, {
    default: "info",
    doc: "pino log level",
  }),
  ...authConfigSpecs,
  ...pullPolicyConfigSpecs,
  ...mqttConfigSpecs,
  ...schedulerConfigSpecs,
  ...webhookConfigSpecs,
  reconcileIntervalMs: v.int("RECONCILE_INTERVAL_MS", {
    default: 2000,
    min: 100,
    max: 60_000,
    doc: "How often the scheduler leader re-checks placement, failover and published state",
  }),
};

export type ControlConfig = ConfigOf<typeof controlConfigSpec>;
