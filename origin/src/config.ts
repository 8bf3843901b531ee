/**
 * Origin node settings from the environment (docs/configuration.md lists them).
 * Media server variables (MEDIA_SERVER, RTMP_PORT, SRT_PORT_RANGE, MEDIAMTX_*) live in
 * media/config.ts (`mediaConfigSpec`); main.ts loads both.
 */
import { type ConfigOf, loadConfig, optional, v } from "@dionysia/shared";
import { pullGuardConfigSpecs } from "./pull-guard.ts";

export const originConfigSpec = {
  ...pullGuardConfigSpecs,
  host: v.string("ORIGIN_HOST", { default: "0.0.0.0", doc: "HTTP listen address" }),
  port: v.port("ORIGIN_PORT", {
    default: 8090,
    doc: "HTTP port serving /live, /health, /metrics (0 = any free port)",
  }),
  dataDir: v.string("DATA_DIR", {
    default: "./data/origin",
    doc: "Segments and playlists under {DATA_DIR}/live/{id}",
  }),
  recordingMinFreeMb: v.int("RECORDING_MIN_FREE_MB", {
    default: 1024,
    min: 0,
    max: 10_000_000,
    doc: "Recordings stop taking segments (a stream.error event; the live stream goes on) when the disk of DATA_DIR has less free than this, in MiB; assets are kept under {DATA_DIR}/vod/{assetId}",
  }),
  nodeId: v.string("NODE_ID", { default: "origin-1", doc: "This node's id in MQTT topics and routes" }),
  region: v.string("NODE_REGION", { default: "local", doc: "Region announced to control" }),
  lat: v.number("NODE_LAT", { default: 0, min: -90, max: 90, doc: "Latitude announced to control" }),
  lon: v.number("NODE_LON", { default: 0, min: -180, max: 180, doc: "Longitude announced to control" }),
  publicUrl: v.url("PUBLIC_URL", {
    default: "http://127.0.0.1:8090",
    protocols: ["http", "https"],
    doc: "Base URL the CDN/routers use to reach /live on this node",
  }),
  utcTimingUrl: optional(
    v.url("DASH_UTC_TIMING_URL", {
      protocols: ["http", "https"],
      doc: "Time source every DASH manifest names in <UTCTiming> (http-xsdate); default PUBLIC_URL/time. Point it at the router (ROUTER/time) when viewers cannot reach origins",
    }),
  ),
  transcoder: v.enumOf("TRANSCODER", ["ffmpeg", "gpac", "auto"] as const, {
    default: "auto",
    doc: "Transcoder back end; auto = ffmpeg when it answers, else gpac",
  }),
  controlUrl: v.url("CONTROL_URL", {
    default: "http://127.0.0.1:8080",
    protocols: ["http", "https"],
    doc: "Control service base URL (ingest authorization)",
  }),
  nodeKey: optional(v.secret("DIONYSIA_NODE_KEY", { doc: "Credential this node presents to control" })),
  mqttUrl: v.url("MQTT_URL", {
    default: "mqtt://127.0.0.1:1883",
    doc: "MQTT broker for telemetry and desired state",
  }),
  logLevel: v.enumOf("LOG_LEVEL", ["trace", "debug", "info", "warn", "error", "fatal"] as const, {
    default: "info",
    doc: "pino log level",
  }),
};

export type OriginConfig = ConfigOf<typeof originConfigSpec>;

export function loadOriginConfig(env: Record<string, string | undefined> = process.env): OriginConfig {
  return loadConfig(originConfigSpec, env);
}
