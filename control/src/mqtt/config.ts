/** Control's MQTT settings (docs/configuration.md, docs/security.md). */
import { optional, v } from "@dionysia/shared";

export const mqttConfigSpecs = {
  mqttUrl: optional(
    v.url("MQTT_URL", {
      protocols: ["mqtt", "mqtts", "tcp", "ssl", "ws", "wss"],
      doc: "External broker; unset = start the embedded aedes broker",
    }),
  ),
  mqttUsername: optional(
    v.string("MQTT_USERNAME", { doc: "Control's user name on an external broker (e.g. `dionysia.control`)" }),
  ),
  mqttPassword: optional(
    v.string("MQTT_PASSWORD", {
      secret: true,
      doc: "Control's password on an external broker (never logged)",
    }),
  ),
  mqttCaFile: optional(
    v.string("MQTT_CA_FILE", { doc: "PEM CA bundle trusted for an `mqtts://` broker (default: system CAs)" }),
  ),
  embeddedHost: v.string("MQTT_EMBEDDED_HOST", {
    default: "127.0.0.1",
    doc: "Interface of the embedded broker (when MQTT_URL is unset); 0.0.0.0 exposes it to other hosts",
  }),
  embeddedPort: v.port("MQTT_EMBEDDED_PORT", {
    default: 1883,
    doc: "Port of the embedded broker (0 = free port)",
  }),
  embeddedTlsCertFile: optional(
    v.string("MQTT_EMBEDDED_TLS_CERT_FILE", {
      doc: "PEM certificate (chain) of the embedded broker's TLS listener; with the key file, turns it on",
    }),
  ),
  embeddedTlsKeyFile: optional(
    v.string("MQTT_EMBEDDED_TLS_KEY_FILE", { doc: "PEM private key of the embedded broker's TLS listener" }),
  ),
  embeddedTlsHost: v.string("MQTT_EMBEDDED_TLS_HOST", {
    default: "0.0.0.0",
    doc: "Interface of the embedded broker's TLS listener (only when a certificate is set)",
  }),
  embeddedTlsPort: v.port("MQTT_EMBEDDED_TLS_PORT", {
    default: 8883,
    doc: "Port of the embedded broker's TLS listener (0 = free port)",
  }),
  embeddedWsPort: optional(
    v.port("MQTT_EMBEDDED_WS_PORT", {
      doc: "Port of the embedded broker's MQTT over WebSockets listener, path `/mqtt`, on MQTT_EMBEDDED_HOST (0 = free port); unset = no WebSocket listener",
    }),
  ),
  wsPublicUrl: optional(
    v.url("MQTT_WS_PUBLIC_URL", {
      protocols: ["ws", "wss"],
      doc: "MQTT over WebSockets URL browsers are given by GET /v1/telemetry/mqtt (e.g. behind a TLS proxy); default: the embedded WebSocket listener's address",
    }),
  ),
  nodeSecret: optional(
    v.secret("MQTT_NODE_SECRET", {
      doc: "Node enrolment secret: node N's MQTT password is hex HMAC-SHA256(secret, `dionysia/mqtt/node/N`); unset = the embedded broker refuses every node",
    }),
  ),
  nodeSecretPrevious: optional(
    v.secret("MQTT_NODE_SECRET_PREVIOUS", {
      doc: "Also accepted while node passwords are being rotated to a new MQTT_NODE_SECRET",
    }),
  ),
  revokedNodes: optional(
    v.list("MQTT_REVOKED_NODES", {
      doc: "Node ids the embedded broker refuses whatever their password (a lost host, until the secret is rotated)",
    }),
  ),
  routerPassword: optional(
    v.secret("MQTT_ROUTER_PASSWORD", {
      doc: "Password of the `dionysia.router` MQTT user on the embedded broker; unset = routers refused",
    }),
  ),
  dashboardPassword: optional(
    v.secret("MQTT_DASHBOARD_PASSWORD", {
      doc: "Password of the read-only `dionysia.dashboard` MQTT user on the embedded broker, handed to the console by GET /v1/telemetry/mqtt; unset = refused",
    }),
  ),
  authFailuresPerMinute: v.int("MQTT_AUTH_FAILURES_PER_MINUTE", {
    default: 20,
    min: 0,
    doc: "Failed MQTT logins per source address and minute before the embedded broker refuses its connects (0 = off)",
  }),
  maxPacketBytes: v.int("MQTT_MAX_PACKET_BYTES", {
    default: 256 * 1024,
    min: 1024,
    max: 64 * 1024 * 1024,
    doc: "Largest MQTT packet the embedded broker takes; a bigger one closes the connection before it is read",
  }),
  retainedMaxPerClient: v.int("MQTT_RETAINED_MAX_PER_CLIENT", {
    default: 1000,
    min: 1,
    doc: "Retained topics one non-control identity may hold on the embedded broker; past it, messages are delivered but not retained",
  }),
  retainedMaxBytesPerClient: v.int("MQTT_RETAINED_MAX_BYTES_PER_CLIENT", {
    default: 1024 * 1024,
    min: 1024,
    doc: "Retained payload bytes one non-control identity may hold on the embedded broker",
  }),
  nodeMaxLoadUnits: v.number("NODE_MAX_LOAD_UNITS", {
    default: 100_000,
    min: 0,
    doc: "Largest capacity (load units) a node may announce; a bigger announce is refused",
  }),
  nodeMaxStreams: v.int("NODE_MAX_STREAMS", {
    default: 10_000,
    min: 0,
    doc: "Largest `maxStreams` a node may announce",
  }),
  nodeUrlHosts: optional(
    v.list("NODE_URL_HOSTS", {
      doc: "Hosts a node may announce in its URLs (exact names or `.suffix`); unset = any host",
    }),
  ),
  telemetryIntervalMs: v.int("TELEMETRY_INTERVAL_MS", {
    default: 2000,
    min: 200,
    max: 60_000,
    doc: "Origins' telemetry period; a node silent for 3 periods is marked offline",
  }),
};
