/** Control's MQTT settings (docs/configuration.md). */
import { optional, v } from "@dionysia/shared";

export const mqttConfigSpecs = {
  mqttUrl: optional(
    v.url("MQTT_URL", {
      protocols: ["mqtt", "mqtts", "tcp", "ssl", "ws", "wss"],
      doc: "External broker; unset = start the embedded aedes broker",
    }),
  ),
  mqttUsername: optional(v.string("MQTT_USERNAME", { doc: "Broker user name (external broker)" })),
  mqttPassword: optional(
    v.string("MQTT_PASSWORD", { secret: true, doc: "Broker password (external broker; never logged)" }),
  ),
  embeddedHost: v.string("MQTT_EMBEDDED_HOST", {
    default: "0.0.0.0",
    doc: "Interface of the embedded broker (when MQTT_URL is unset)",
  }),
  embeddedPort: v.port("MQTT_EMBEDDED_PORT", {
    default: 1883,
    doc: "Port of the embedded broker (0 = free port)",
  }),
  telemetryIntervalMs: v.int("TELEMETRY_INTERVAL_MS", {
    default: 2000,
    min: 200,
    max: 60_000,
    doc: "Origins' telemetry period; a node silent for 3 periods is marked offline",
  }),
};
