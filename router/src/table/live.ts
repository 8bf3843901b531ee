/**
 * Live updates: retained `dionysia/v1/routes/+` (empty payload = delete) and
 * `dionysia/v1/nodes/+/state`. Every payload is validated; a bad one is logged and dropped.
 * MQTT 3.1.1 (protocolVersion 4), matching the embedded aedes broker.
 */
import { readFileSync } from "node:fs";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { decodeMessage } from "../../../shared/src/codec.ts";
import { ROLE_USERNAMES } from "../../../shared/src/mqtt-auth.ts";
import { NodeState, Route } from "../../../shared/src/schemas/mqtt.ts";
import { filters, parseTopic, topics } from "../../../shared/src/topics.ts";
import type { Log } from "../obs/log.ts";
import type { RouteTable } from "./store.ts";

export interface LiveOptions {
  url: string;
  /** Defaults to `dionysia.router` when a password is set (docs/security.md). */
  username?: string | undefined;
  password?: string | undefined;
  /** PEM CA bundle file for an `mqtts://` broker (default: the system's CAs). */
  caFile?: string | undefined;
  clientId?: string;
  reconnectPeriodMs?: number;
  /** Called when a (re)connection's subscriptions are in place. `resumed` is false the first time. */
  onSubscribed?: (resumed: boolean) => void;
  onConnectionChange?: (connected: boolean) => void;
  onMessage?: (kind: "route" | "delete" | "node" | "dropped") => void;
  /** Signed playback (ADR 0060): payloads on the retained `dionysia/v1/keys` topic. */
  onPlaybackKeys?: (payload: Uint8Array) => void;
}

/** Applies one message to the table; returns what happened. Pure apart from the table and the log. */
export function applyMessage(
  table: RouteTable,
  topic: string,
  payload: Uint8Array,
  log: Log,
): "route" | "delete" | "node" | "dropped" {
  const t = parseTopic(topic);
  if (t?.kind === "route") {
    if (payload.byteLength === 0) {
      table.delete(t.streamId);
      log.info({ streamId: t.streamId }, "route deleted");
      return "delete";
    }
    const d = decodeMessage(Route, payload);
    if (!d.ok) {
      log.warn({ topic, err: d.error }, "invalid route message dropped");
      return "dropped";
    }
    if (d.value.id !== t.streamId) {
      log.warn({ topic, streamId: d.value.id }, "route message id does not match its topic; dropped");
      return "dropped";
    }
    table.upsert(d.value);
    log.debug({ streamId: d.value.id, origins: d.value.origins.length }, "route updated");
    return "route";
  }
  if (t?.kind === "nodeState") {
    // A cleared retained state (node removed) means nothing is known: treat it as online again.
    if (payload.byteLength === 0) {
      table.setNodeOnline(t.nodeId, true);
      return "node";
    }
    const d = decodeMessage(NodeState, payload);
    if (!d.ok) {
      log.warn({ topic, err: d.error }, "invalid node state dropped");
      return "dropped";
    }
    table.setNodeOnline(t.nodeId, d.value.state === "online");
    log.info({ nodeId: t.nodeId, state: d.value.state }, "node state");
    return "node";
  }
  log.warn({ topic }, "message on an unexpected topic dropped");
  return "dropped";
}

export function connectLive(table: RouteTable, o: LiveOptions, log: Log): MqttClient {
  const opts: IClientOptions = {
    protocolVersion: 4,
    // `dionysia-router-` ids are reserved to the router role on the embedded broker.
    clientId: o.clientId ?? `dionysia-router-${Math.random().toString(36).slice(2, 10)}`,
    clean: true,
    reconnectPeriod: o.reconnectPeriodMs ?? 2000,
    connectTimeout: 10_000,
  };
  if (o.password) {
    opts.username = o.username ?? ROLE_USERNAMES.router;
    opts.password = o.password;
  } else if (o.username) opts.username = o.username;
  if (o.caFile) opts.ca = readFileSync(o.caFile);
  const client = mqtt.connect(o.url, opts);
  let connectedOnce = false;
  client.on("connect", () => {
    const resumed = connectedOnce;
    connectedOnce = true;
    o.onConnectionChange?.(true);
    log.info({ resumed }, "connected to MQTT broker");
    const subs = { [filters.allRoutes]: { qos: 1 as const }, [filters.allNodeState]: { qos: 1 as const } };
    // Signed playback (ADR 0060): the live key list, only when someone consumes it.
    if (o.onPlaybackKeys) Object.assign(subs, { [topics.playbackKeys]: { qos: 1 as const } });
    client.subscribe(subs, (err) => {
      if (err) log.error({ err: err.message }, "MQTT subscribe failed");
      else o.onSubscribed?.(resumed);
    });
  });
  client.on("close", () => o.onConnectionChange?.(false));
  client.on("error", (err) => log.warn({ err: err.message }, "MQTT error"));
  client.on("message", (topic, payload) => {
    if (topic === topics.playbackKeys && o.onPlaybackKeys) return o.onPlaybackKeys(payload);
    try {
      // Applied first: `o.onMessage?.(applyMessage(...))` would skip applying without a callback.
      const effect = applyMessage(table, topic, payload, log);
      o.onMessage?.(effect);
    } catch (err) {
      // Defensive: a bug in applying one message must not take the router down.
      log.error({ topic, err: (err as Error).message }, "message handling failed; dropped");
      o.onMessage?.("dropped");
    }
  });
  return client;
}
