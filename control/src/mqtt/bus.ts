/**
 * Control's side of the MQTT contract: consumes announce / state / telemetry / stream status,
 * validating every payload (a bad one is logged, counted and dropped; it never throws), detects
 * nodes whose telemetry went silent, and publishes desired state and routes as retained QoS 1
 * messages. Retained messages published here are remembered and published again after a
 * reconnect, because a broker restart without persistence forgets them.
 */
import {
  AssetReport,
  decodeMessage,
  filters,
  type Logger,
  NodeAnnounce,
  NodeDesired,
  NodeState,
  NodeTelemetry,
  PlatformEvent,
  PlaybackKeys,
  parseTopic,
  Route,
  StreamStatusMessage,
  topics,
  validate,
} from "@dionysia/shared";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { Counter, Gauge, Registry } from "prom-client";
import { type AnnouncePolicy, announceRefusal } from "./announce-policy.ts";
import { SilenceDetector } from "./silence.ts";

export type StateSource = "message" | "silence" | "telemetry";

export interface ControlBusHandler {
  onAnnounce(a: NodeAnnounce): void;
  /** `source`: the retained state / LWT message, the silence detector, or telemetry resuming. */
  onState(nodeId: string, s: NodeState, source: StateSource): void;
  onTelemetry(nodeId: string, t: NodeTelemetry): void;
  onStreamStatus(s: StreamStatusMessage): void;
  /** A node reports a VOD asset it holds (ADR 0095); `report` undefined: it removed it. */
  onAsset?(nodeId: string, assetId: string, report: AssetReport | undefined): void;
}

export interface ControlBusOptions {
  url: string;
  handler: ControlBusHandler;
  logger?: Logger;
  clientId?: string;
  username?: string | undefined;
  password?: string | undefined;
  /** PEM CA bundle for an `mqtts://` broker (default: the system's CAs). */
  ca?: string | Buffer | undefined;
  /** Largest payload the broker takes: a bigger desired state is refused here, loudly. */
  maxPacketBytes?: number | undefined;
  /** Bounds on announced capacity and URLs (default: none beyond the schema). */
  announcePolicy?: AnnouncePolicy | undefined;
  /** Origins' telemetry period; a node silent for `silentIntervals` periods is offline. */
  telemetryIntervalMs?: number;
  silentIntervals?: number;
  reconnectPeriodMs?: number;
  /** prom-client registry for the bus metrics (default: a private one, see `metrics`). */
  registry?: Registry;
}

export type DropReason =
  | "unknown_topic"
  | "empty"
  | "too_large"
  | "not_json"
  | "invalid"
  | "id_mismatch"
  | "announce_refused"
  | "handler_error";

interface Failure {
  reason: DropReason;
  detail: string;
}

function failureOf(error: string): Failure {
  const reason: DropReason = error.startsWith("payload too large")
    ? "too_large"
    : error.startsWith("not JSON")
      ? "not_json"
      : error === "empty payload"
        ? "empty"
        : "invalid";
  return { reason, detail: error };
}

const SUBSCRIPTIONS = [
  filters.allNodeAnnounce,
  filters.allNodeState,
  filters.allNodeTelemetry,
  filters.allStreamStatus,
  filters.allNodeAssets,
];

export class ControlBus {
  readonly client: MqttClient;
  readonly silence: SilenceDetector;
  /** Where the bus metrics are registered (merge into /metrics). */
  readonly registry: Registry;
  /** Counts per kind, also exported to Prometheus. */
  readonly counts = { received: 0, dropped: 0 };
  private readonly h: ControlBusHandler;
  private readonly log: Logger | undefined;
  private readonly retained = new Map<string, string>();
  private readonly received: Counter<"kind">;
  private readonly dropped: Counter<"reason">;
  private readonly lastWarn = new Map<string, number>();
  private readonly announcePolicy: AnnouncePolicy | undefined;
  private readonly maxPacketBytes: number | undefined;
  /** Last accepted public URL per node, so a change is logged as such. */
  private readonly publicUrls = new Map<string, string>();
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private connectedOnce = false;

  constructor(o: ControlBusOptions) {
    this.h = o.handler;
    this.announcePolicy = o.announcePolicy;
    this.maxPacketBytes = o.maxPacketBytes;
    this.log = o.logger?.child({ component: "mqtt-bus" });
    this.silence = new SilenceDetector(o.telemetryIntervalMs ?? 2000, o.silentIntervals ?? 3);
    this.registry = o.registry ?? new Registry();
    const registers = [this.registry];
    this.received = new Counter({
      name: "dionysia_mqtt_messages_received_total",
      help: "Valid MQTT messages consumed by control, by kind",
      labelNames: ["kind"],
      registers,
    });
    this.dropped = new Counter({
      name: "dionysia_mqtt_messages_dropped_total",
      help: "MQTT messages dropped by control (invalid, oversized, unknown topic...), by reason",
      labelNames: ["reason"],
      registers,
    });
    const bus = this;
    new Gauge({
      name: "dionysia_mqtt_connected",
      help: "1 while control is connected to the MQTT broker",
      registers,
      collect() {
        this.set(bus.client.connected ? 1 : 0);
      },
    });
    const opts: IClientOptions = {
      protocolVersion: 4,
      clientId: o.clientId ?? `dionysia-control-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
      clean: true,
      reconnectPeriod: o.reconnectPeriodMs ?? 1000,
      connectTimeout: 10_000,
      keepalive: 30,
      manualConnect: true,
    };
    if (o.username) opts.username = o.username;
    if (o.password) opts.password = o.password;
    if (o.ca) opts.ca = o.ca;
    this.client = mqtt.connect(o.url, opts);
    this.client.on("connect", () => this.onConnect());
    this.client.on("message", (topic, payload) => this.onMessage(topic, payload));
    this.client.on("error", (err) => this.log?.warn({ err: err.message }, "mqtt error"));
    this.client.on("offline", () => this.log?.warn("mqtt broker unreachable; reconnecting"));
  }

  /** Connects and subscribes; resolves once the first subscription is in place. */
  async start(): Promise<void> {
    const ready = new Promise<void>((resolve) => this.client.once("connect", () => resolve()));
    this.client.connect();
    await ready;
    await this.subscribed;
    const sweepMs = Math.max(50, Math.floor(this.silence.intervalMs / 2));
    this.sweepTimer = setInterval(() => this.sweep(), sweepMs);
  }

  private subscribed: Promise<unknown> = Promise.resolve();

  private onConnect(): void {
    this.log?.info({ reconnect: this.connectedOnce }, "connected to MQTT broker");
    this.subscribed = this.client
      .subscribeAsync(SUBSCRIPTIONS, { qos: 1 })
      .catch((err) => this.log?.error({ err: (err as Error).message }, "subscribe failed"));
    if (this.connectedOnce) {
      // Nodes could not be heard while we were disconnected: their silence clocks start now.
      this.silence.rearm(Date.now());
      // The broker may have lost its retained messages (restart without persistence).
      for (const [topic, payload] of this.retained) {
        this.client.publish(topic, payload, { qos: 1, retain: true });
      }
    }
    this.connectedOnce = true;
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Publishes a node's full desired state (retained, QoS 1). */
  async publishDesired(nodeId: string, desired: NodeDesired): Promise<void> {
    if (desired.nodeId !== nodeId) throw new Error(`desired.nodeId ${desired.nodeId} != ${nodeId}`);
    const err = validate(NodeDesired, desired);
    if (err) throw new Error(`invalid desired state for ${nodeId}: ${err}`);
    const payload = JSON.stringify(desired);
    // The broker would close control's connection over it; fail this node's publish instead.
    const size = Buffer.byteLength(payload) + topics.nodeDesired(nodeId).length + 4;
    if (this.maxPacketBytes && size > this.maxPacketBytes)
      throw new Error(
        `desired state for ${nodeId} is ${size} bytes, over MQTT_MAX_PACKET_BYTES ${this.maxPacketBytes}`,
      );
    await this.publishRetained(topics.nodeDesired(nodeId), payload);
  }

  /** Clears a node's desired state (node deleted). */
  async clearDesired(nodeId: string): Promise<void> {
    await this.publishRetained(topics.nodeDesired(nodeId), "");
  }

  /** Signed playback (ADR 0060): the live public keys, retained on `dionysia/v1/keys`. */
  async publishPlaybackKeys(keys: PlaybackKeys): Promise<void> {
    const err = validate(PlaybackKeys, keys);
    if (err) throw new Error(`invalid playback keys: ${err}`);
    await this.publishRetained(topics.playbackKeys, JSON.stringify(keys));
  }

  async publishRoute(route: Route): Promise<void> {
    const err = validate(Route, route);
    if (err) throw new Error(`invalid route for ${route.id}: ${err}`);
    await this.publishRetained(topics.route(route.id), JSON.stringify(route));
  }

  /** A platform event (ADR 0097): QoS 1, not retained (the table is the record, not the broker). */
  async publishEvent(e: PlatformEvent): Promise<void> {
    const err = validate(PlatformEvent, e);
    if (err) throw new Error(`invalid event ${e.id}: ${err}`);
    await this.client.publishAsync(topics.event(e.type), JSON.stringify(e), { qos: 1, retain: false });
  }

  /** Deletes a route: an empty retained payload removes it from the broker and the routers. */
  async deleteRoute(streamId: string): Promise<void> {
    await this.publishRetained(topics.route(streamId), "");
  }

  /** Clears retained announce/state of a node removed with DELETE /v1/nodes/{id}. */
  async forgetNode(nodeId: string): Promise<void> {
    this.silence.forget(nodeId);
    this.publicUrls.delete(nodeId);
    await this.publishRetained(topics.nodeAnnounce(nodeId), "");
    await this.publishRetained(topics.nodeState(nodeId), "");
    await this.clearDesired(nodeId);
  }

  private async publishRetained(topic: string, payload: string): Promise<void> {
    if (payload === "") this.retained.delete(topic);
    else this.retained.set(topic, payload);
    // While disconnected mqtt.js queues the packet; it is sent (and acked) after reconnect.
    await this.client.publishAsync(topic, payload, { qos: 1, retain: true });
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.client.endAsync(false).catch(() => this.client.end(true));
  }

  private drop(reason: DropReason, topic: string, detail: string, size: number): void {
    this.counts.dropped++;
    this.dropped.inc({ reason });
    // Throttled: a misbehaving publisher must not flood the log.
    const now = Date.now();
    if (now - (this.lastWarn.get(reason) ?? 0) >= 5000) {
      this.lastWarn.set(reason, now);
      this.log?.warn({ topic, reason, detail, size }, "dropped MQTT message");
    } else this.log?.debug({ topic, reason, detail, size }, "dropped MQTT message");
  }

  private onMessage(topic: string, payload: Buffer): void {
    let failure: Failure | undefined;
    try {
      failure = this.dispatch(topic, payload);
    } catch (err) {
      failure = { reason: "handler_error", detail: (err as Error).message };
    }
    if (failure) this.drop(failure.reason, topic, failure.detail, payload.byteLength);
  }

  /** Applies one message; returns why it was dropped, if it was. */
  private dispatch(topic: string, payload: Buffer): Failure | undefined {
    const t = parseTopic(topic);
    if (!t) return { reason: "unknown_topic", detail: "not in the contract" };
    if (payload.byteLength === 0 && t.kind === "nodeAsset") {
      // The node removed the asset's files (it clears its retained report).
      this.accept("assetRemoved");
      this.h.onAsset?.(t.nodeId, t.assetId, undefined);
      return undefined;
    }
    if (payload.byteLength === 0) {
      // A cleared retained message (node or stream removed): nothing to apply, nothing to warn about.
      this.dropped.inc({ reason: "empty" });
      return undefined;
    }
    switch (t.kind) {
      case "nodeAnnounce": {
        const d = decodeMessage(NodeAnnounce, payload);
        if (!d.ok) return failureOf(d.error);
        if (d.value.id !== t.nodeId) return { reason: "id_mismatch", detail: `id ${d.value.id}` };
        const refused = this.announcePolicy && announceRefusal(d.value, this.announcePolicy);
        if (refused) return { reason: "announce_refused", detail: `node ${t.nodeId}: ${refused}` };
        const before = this.publicUrls.get(t.nodeId);
        if (before !== undefined && before !== d.value.publicUrl)
          this.log?.warn(
            { nodeId: t.nodeId, from: before, to: d.value.publicUrl },
            "node public URL changed",
          );
        this.publicUrls.set(t.nodeId, d.value.publicUrl);
        this.accept("announce");
        this.silence.seen(t.nodeId, Date.now());
        this.h.onAnnounce(d.value);
        return undefined;
      }
      case "nodeState": {
        const d = decodeMessage(NodeState, payload);
        if (!d.ok) return failureOf(d.error);
        this.accept("state");
        if (d.value.state === "offline") this.silence.forget(t.nodeId);
        else this.silence.seen(t.nodeId, Date.now());
        this.h.onState(t.nodeId, d.value, "message");
        return undefined;
      }
      case "nodeTelemetry": {
        const d = decodeMessage(NodeTelemetry, payload);
        if (!d.ok) return failureOf(d.error);
        this.accept("telemetry");
        if (this.silence.seen(t.nodeId, Date.now())) {
          this.h.onState(t.nodeId, { state: "online", ts: Date.now() }, "telemetry");
        }
        this.h.onTelemetry(t.nodeId, d.value);
        return undefined;
      }
      case "streamStatus": {
        const d = decodeMessage(StreamStatusMessage, payload);
        if (!d.ok) return failureOf(d.error);
        if (d.value.id !== t.streamId) return { reason: "id_mismatch", detail: `id ${d.value.id}` };
        // The topic is the sender's own tree (broker ACL); the payload must not name another node.
        if (d.value.nodeId !== t.nodeId)
          return { reason: "id_mismatch", detail: `nodeId ${d.value.nodeId} on node ${t.nodeId}'s topic` };
        this.accept("streamStatus");
        this.h.onStreamStatus(d.value);
        return undefined;
      }
      case "nodeAsset": {
        const d = decodeMessage(AssetReport, payload);
        if (!d.ok) return failureOf(d.error);
        if (d.value.id !== t.assetId) return { reason: "id_mismatch", detail: `id ${d.value.id}` };
        if (d.value.nodeId !== t.nodeId)
          return { reason: "id_mismatch", detail: `nodeId ${d.value.nodeId} on node ${t.nodeId}'s topic` };
        this.accept("asset");
        this.h.onAsset?.(t.nodeId, t.assetId, d.value);
        return undefined;
      }
      default:
        // desired / routes are ours; we do not subscribe to them.
        return { reason: "unknown_topic", detail: `unexpected kind ${t.kind}` };
    }
  }

  private accept(kind: string): void {
    this.counts.received++;
    this.received.inc({ kind });
  }

  private sweep(): void {
    // Disconnected, we hear no one: that is our outage, not every node's (see rearm on connect).
    if (!this.client.connected) return;
    for (const nodeId of this.silence.sweep(Date.now())) {
      this.log?.warn({ nodeId, silentMs: this.silence.timeoutMs }, "node telemetry silent; marking offline");
      try {
        this.h.onState(nodeId, { state: "offline", ts: Date.now() }, "silence");
      } catch (err) {
        this.log?.error({ nodeId, err: (err as Error).message }, "state handler failed");
      }
    }
  }
}
