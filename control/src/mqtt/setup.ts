/**
 * From control's MQTT configuration to broker and bus options: the one hook the network layer
 * calls, so credentials, TLS, limits and announce bounds are wired in one place.
 */
import { readFileSync } from "node:fs";
import type { ConfigOf, Logger } from "@dionysia/shared";
import type { Registry } from "prom-client";
import type { EmbeddedBroker, EmbeddedBrokerOptions } from "./broker.ts";
import type { ControlBusOptions } from "./bus.ts";
import type { mqttConfigSpecs } from "./config.ts";

export type MqttConfig = ConfigOf<typeof mqttConfigSpecs>;

export function embeddedBrokerOptions(
  c: MqttConfig,
  logger?: Logger,
  registry?: Registry,
): EmbeddedBrokerOptions {
  if (!c.nodeSecret)
    logger?.warn("MQTT_NODE_SECRET is unset: the embedded broker refuses every node (docs/security.md)");
  if ((c.embeddedTlsCertFile === undefined) !== (c.embeddedTlsKeyFile === undefined))
    throw new Error("MQTT_EMBEDDED_TLS_CERT_FILE and MQTT_EMBEDDED_TLS_KEY_FILE go together");
  return {
    host: c.embeddedHost,
    port: c.embeddedPort,
    ...(logger ? { logger } : {}),
    ...(registry ? { registry } : {}),
    credentials: {
      nodeSecrets: [c.nodeSecret, c.nodeSecretPrevious].filter((s): s is string => !!s),
      revokedNodes: c.revokedNodes ? new Set(c.revokedNodes) : undefined,
      routerPassword: c.routerPassword,
      dashboardPassword: c.dashboardPassword,
    },
    maxPacketBytes: c.maxPacketBytes,
    authFailuresPerMinute: c.authFailuresPerMinute,
    retained: { maxTopics: c.retainedMaxPerClient, maxBytes: c.retainedMaxBytesPerClient },
    ws: c.embeddedWsPort !== undefined ? { host: c.embeddedHost, port: c.embeddedWsPort } : undefined,
    tls:
      c.embeddedTlsCertFile && c.embeddedTlsKeyFile
        ? {
            cert: readFileSync(c.embeddedTlsCertFile),
            key: readFileSync(c.embeddedTlsKeyFile),
            host: c.embeddedTlsHost,
            port: c.embeddedTlsPort,
          }
        : undefined,
  };
}

/** Where and as whom control's bus connects: its own embedded broker, or MQTT_URL. */
export function controlBusOptions(
  c: MqttConfig,
  broker: EmbeddedBroker | undefined,
): Pick<
  ControlBusOptions,
  "url" | "username" | "password" | "ca" | "announcePolicy" | "maxPacketBytes" | "telemetryIntervalMs"
> {
  const common = {
    telemetryIntervalMs: c.telemetryIntervalMs,
    announcePolicy: { maxLoadUnits: c.nodeMaxLoadUnits, maxStreams: c.nodeMaxStreams, hosts: c.nodeUrlHosts },
  };
  if (broker)
    return {
      ...common,
      url: broker.url,
      username: broker.control.username,
      password: broker.control.password,
      maxPacketBytes: c.maxPacketBytes,
    };
  if (!c.mqttUrl) throw new Error("no MQTT broker: MQTT_URL unset and no embedded broker");
  return {
    ...common,
    url: c.mqttUrl,
    username: c.mqttUsername,
    password: c.mqttPassword,
    ca: c.mqttCaFile ? readFileSync(c.mqttCaFile) : undefined,
  };
}
