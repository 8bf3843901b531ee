/**
 * The origin's MQTT agent: the node's side of the contract (docs/architecture.md, "MQTT contract").
 * - connects with a last will (`state` = offline, retained, QoS 1), so control learns of a
 *   crash from the broker;
 * - on every (re)connect publishes state online and the announce (retained), re-publishes the
 *   last stream statuses and subscribes to its desired topic, so a broker restart that lost
 *   every retained message heals by itself;
 * - telemetry every `intervalMs` (QoS 0, dropped rather than queued while disconnected);
 * - desired state is validated, and versions older than the one applied are ignored. Nothing
 *   here stops streams on a disconnect: the last desired state stays in force.
 */
import { readFileSync } from "node:fs";
import {
  AssetReport,
  decodeMessage,
  type Logger,
  NodeAnnounce,
  NodeDesired,
  NodeTelemetry,
  nodeClientId,
  StreamStatusMessage,
  topics,
  validate,
} from "@dionysia/shared";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { implausibleVersion } from "./desired-version.ts";
import type { TelemetrySource } from "./telemetry.ts";

export interface OriginAgentOptions {
  mqttUrl: string;
  nodeId: string;
  announce: () => NodeAnnounce;
  telemetry: (() => NodeTelemetry) | TelemetrySource;
  /** Called with each newer desired state; the caller reconciles. Errors are logged. */
  onDesired: (d: NodeDesired) => void | Promise<void>;
  logger?: Logger;
  intervalMs?: number;
  reconnectPeriodMs?: number;
  /** Defaults to the node id (the node's MQTT user name, docs/security.md) when a password is set. */
  username?: string | undefined;
  password?: string | undefined;
  /** PEM CA bundle (contents, or `caFile` to read) for an `mqtts://` broker (default: system CAs). */
  ca?: string | Buffer | undefined;
  caFile?: string | undefined;
  /** Signed playback (ADR 0060): payloads of the retained `dionysia/v1/keys` topic. */
  onPlaybackKeys?: ((payload: Uint8Array) => void) | undefined;
}

export type DesiredDrop = "invalid" | "stale" | "wrong_node" | "empty" | "implausible_version";

export class OriginAgent {
  readonly client: MqttClient;
  readonly nodeId: string;
  readonly intervalMs: number;
  /** Counters for tests and metrics. */
  readonly counts = { connects: 0, telemetrySent: 0, desiredApplied: 0, desiredDropped: 0 };
  private readonly o: OriginAgentOptions;
  private readonly log: Logger | undefined;
  private readonly statuses = new Map<string, string>();
  private readonly assets = new Map<string, string>();
  private applied: NodeDesired | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  /** Desired messages are applied one at a time, in arrival order. */
  private chain: Promise<void> = Promise.resolve();

  constructor(o: OriginAgentOptions) {
    this.o = o;
    this.nodeId = o.nodeId;
    this.intervalMs = o.intervalMs ?? 2000;
    this.log = o.logger?.child({ component: "mqtt-agent", nodeId: o.nodeId });
    const opts: IClientOptions = {
      protocolVersion: 4,
      // The broker binds this id to the node's credential: nobody else can take the session over.
      clientId: nodeClientId(o.nodeId),
      clean: true,
      keepalive: 10,
      reconnectPeriod: o.reconnectPeriodMs ?? 1000,
      connectTimeout: 10_000,
      queueQoSZero: false,
      manualConnect: true,
      will: {
        topic: topics.nodeState(o.nodeId),
        payload: Buffer.from(JSON.stringify({ state: "offline" })),
        qos: 1,
        retain: true,
      },
    };
    if (o.password) {
      opts.username = o.username ?? o.nodeId;
      opts.password = o.password;
    } else if (o.username) opts.username = o.username;
    const ca = o.ca ?? (o.caFile ? readFileSync(o.caFile) : undefined);
    if (ca) opts.ca = ca;
    this.client = mqtt.connect(o.mqttUrl, opts);
    this.client.on("connect", () => void this.onConnect());
    this.client.on("message", (topic, payload, packet) => this.onMessage(topic, payload, packet.retain));
    this.client.on("error", (err) => this.log?.warn({ err: err.message }, "mqtt error"));
    this.client.on("offline", () =>
      this.log?.warn("mqtt broker unreachable; streams keep running, reconnecting"),
    );
  }

  /** The desired state currently in force (survives disconnects). */
  get desired(): NodeDesired | undefined {
    return this.applied;
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Connects; resolves after the first announce (or keeps trying in the background on timeout). */
  async start(timeoutMs = 15_000): Promise<void> {
    const first = new Promise<void>((resolve) => this.client.once("connect", () => resolve()));
    this.client.connect();
    this.timer = setInterval(() => this.sendTelemetry(), this.intervalMs);
    let t: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([first, new Promise<void>((r) => (t = setTimeout(r, timeoutMs)))]);
    clearTimeout(t);
  }

  /** Re-publishes the announce (e.g. after capacity or endpoints changed). */
  async reannounce(): Promise<void> {
    const a = this.o.announce();
    const err = validate(NodeAnnounce, a);
    if (err) throw new Error(`invalid announce: ${err}`);
    if (a.id !== this.nodeId) throw new Error(`announce id ${a.id} != node id ${this.nodeId}`);
    await this.client.publishAsync(topics.nodeAnnounce(this.nodeId), JSON.stringify(a), {
      qos: 1,
      retain: true,
    });
  }

  /** Publishes a stream's status (retained); remembered and re-published after reconnects. */
  async publishStreamStatus(s: StreamStatusMessage): Promise<void> {
    const err = validate(StreamStatusMessage, s);
    if (err) throw new Error(`invalid stream status: ${err}`);
    const payload = JSON.stringify(s);
    this.statuses.set(s.id, payload);
    if (this.client.connected) {
      await this.client.publishAsync(topics.streamStatus(this.nodeId, s.id), payload, {
        qos: 1,
        retain: true,
      });
    }
  }

  /**
   * A VOD asset this node holds (ADR 0095), retained under its own tree; `report` undefined: it
   * removed it (the retained report is cleared). Remembered and re-published after reconnects.
   */
  async publishAsset(id: string, report: AssetReport | undefined): Promise<void> {
    if (report) {
      const err = validate(AssetReport, report);
      if (err) throw new Error(`invalid asset report: ${err}`);
    }
    const payload = report ? JSON.stringify(report) : "";
    if (report) this.assets.set(id, payload);
    else this.assets.delete(id);
    if (this.client.connected)
      await this.client.publishAsync(topics.nodeAsset(this.nodeId, id), payload, { qos: 1, retain: true });
  }

  /** The stream left this node: forget its status here (the new node publishes its own). */
  forgetStreamStatus(streamId: string): void {
    this.statuses.delete(streamId);
  }

  /**
   * Clean shutdown: says offline itself (a clean DISCONNECT suppresses the last will), then
   * disconnects.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    if (this.client.connected) {
      await this.client
        .publishAsync(topics.nodeState(this.nodeId), JSON.stringify({ state: "offline", ts: Date.now() }), {
          qos: 1,
          retain: true,
        })
        .catch(() => undefined);
    }
    await this.client.endAsync(false).catch(() => this.client.end(true));
    await this.chain;
  }

  private async onConnect(): Promise<void> {
    this.counts.connects++;
    this.log?.info({ reconnect: this.counts.connects > 1 }, "connected to MQTT broker");
    try {
      await this.client.subscribeAsync(topics.nodeDesired(this.nodeId), { qos: 1 });
      if (this.o.onPlaybackKeys) await this.client.subscribeAsync(topics.playbackKeys, { qos: 1 });
      await this.client.publishAsync(
        topics.nodeState(this.nodeId),
        JSON.stringify({ state: "online", ts: Date.now() }),
        { qos: 1, retain: true },
      );
      await this.reannounce();
      for (const [id, payload] of this.statuses) {
        await this.client.publishAsync(topics.streamStatus(this.nodeId, id), payload, {
          qos: 1,
          retain: true,
        });
      }
      for (const [id, payload] of this.assets)
        await this.client.publishAsync(topics.nodeAsset(this.nodeId, id), payload, { qos: 1, retain: true });
      this.sendTelemetry();
    } catch (err) {
      // A disconnect in the middle: the next connect runs all of this again.
      this.log?.warn({ err: (err as Error).message }, "announce after connect failed");
    }
  }

  private sendTelemetry(): void {
    if (!this.client.connected || this.stopped) return;
    let t: NodeTelemetry;
    try {
      const src = this.o.telemetry;
      t = typeof src === "function" ? src() : src.sample();
    } catch (err) {
      this.log?.warn({ err: (err as Error).message }, "telemetry sample failed");
      return;
    }
    const err = validate(NodeTelemetry, t);
    if (err) {
      this.log?.error({ err }, "invalid telemetry sample not sent");
      return;
    }
    this.client.publish(topics.nodeTelemetry(this.nodeId), JSON.stringify(t), { qos: 0 });
    this.counts.telemetrySent++;
  }

  private onMessage(topic: string, payload: Buffer, retained: boolean): void {
    if (topic === topics.playbackKeys) {
      this.o.onPlaybackKeys?.(payload);
      return;
    }
    if (topic !== topics.nodeDesired(this.nodeId)) return;
    const reason = this.acceptDesired(payload, retained);
    if (reason) {
      this.counts.desiredDropped++;
      this.log?.warn(
        { reason: reason.reason, detail: reason.detail, size: payload.byteLength },
        "desired state dropped",
      );
    }
  }

  /**
   * `retained`: the copy the broker holds, sent on (re)subscribing. It is control's latest state
   * (only control may publish desired), so it is applied even below the version in force: a
   * version that ran ahead (a forged one from before ACLs, a reset database) cannot lock control
   * out past the next reconnect.
   */
  private acceptDesired(
    payload: Buffer,
    retained = false,
  ): { reason: DesiredDrop; detail: string } | undefined {
    if (payload.byteLength === 0) return { reason: "empty", detail: "retained desired state cleared" };
    const d = decodeMessage(NodeDesired, payload);
    if (!d.ok) return { reason: "invalid", detail: d.error };
    const desired = d.value;
    if (desired.nodeId !== this.nodeId) return { reason: "wrong_node", detail: desired.nodeId };
    const implausible = implausibleVersion(desired.version, this.applied?.version);
    if (implausible) return { reason: "implausible_version", detail: implausible };
    const rewound = retained && this.applied !== undefined && desired.version < this.applied.version;
    if (rewound)
      this.log?.warn(
        { version: desired.version, applied: this.applied?.version },
        "broker's retained desired state is older than the one in force; applying it",
      );
    if (this.applied && desired.version <= this.applied.version && !rewound) {
      // Retained copy re-delivered after a reconnect, or an older message: already in force.
      return desired.version === this.applied.version
        ? undefined
        : { reason: "stale", detail: `version ${desired.version} < ${this.applied.version}` };
    }
    this.applied = desired;
    this.counts.desiredApplied++;
    this.chain = this.chain.then(async () => {
      try {
        await this.o.onDesired(desired);
      } catch (err) {
        this.log?.error(
          { err: (err as Error).message, version: desired.version },
          "applying desired state failed",
        );
      }
    });
    return undefined;
  }
}
