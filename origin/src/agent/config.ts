/** Environment variables of the origin's MQTT agent (docs/configuration.md). */
import { optional, v } from "@dionysia/shared";

export const agentConfigSpecs = {
  mqttUrl: v.url("MQTT_URL", {
    protocols: ["mqtt", "mqtts", "tcp", "ssl", "ws", "wss"],
    doc: "Broker the origin connects to (control's embedded broker or an MQTT cluster)",
  }),
  mqttUsername: optional(
    v.string("MQTT_USERNAME", { doc: "Broker user name (default: NODE_ID, the node's MQTT identity)" }),
  ),
  mqttPassword: optional(
    v.string("MQTT_PASSWORD", {
      secret: true,
      doc: "This node's MQTT password, hex HMAC-SHA256(MQTT_NODE_SECRET, `dionysia/mqtt/node/NODE_ID`) (never logged)",
    }),
  ),
  mqttCaFile: optional(
    v.string("MQTT_CA_FILE", { doc: "PEM CA bundle trusted for an `mqtts://` broker (default: system CAs)" }),
  ),
  telemetryIntervalMs: v.int("TELEMETRY_INTERVAL_MS", {
    default: 2000,
    min: 200,
    max: 60_000,
    doc: "Telemetry period; control marks a node offline after 3 silent periods",
  }),
  capacityUnits: optional(
    v.number("ORIGIN_CAPACITY_UNITS", {
      min: 0,
      doc: "Announced transcode capacity in load units (output megapixels/s); skips calibration",
    }),
  ),
  calibrationMs: v.int("ORIGIN_CALIBRATION_MS", {
    default: 2500,
    min: 500,
    max: 30_000,
    doc: "Least wall time of the start-up calibration encode (CPU time is what it measures; ADR 0044)",
  }),
  capacityFallback: v.number("ORIGIN_CAPACITY_FALLBACK", {
    default: 20,
    min: 0,
    doc: "Capacity announced when calibration fails (no ffmpeg/libx264)",
  }),
};
