/**
 * The live side of the console: one MQTT-over-WebSocket connection with the read-only dashboard
 * credential (GET /v1/telemetry/mqtt names the URL, user, password and topic filters). Telemetry
 * charts and the event list read from here, never by polling the API. Payloads are checked
 * against the same TypeBox schemas the services use.
 */
import { type PlatformEvent as Platform, PlatformEvent } from "@dionysia/shared/schemas/event";
import { NodeState, NodeTelemetry, StreamStatusMessage } from "@dionysia/shared/schemas/mqtt";
import { parseTopic } from "@dionysia/shared/topics";
import { Value } from "@sinclair/typebox/value";
import mqtt, { type MqttClient } from "mqtt";
import { api } from "./api.ts";

export interface MqttAccess {
  url: string;
  username: string;
  password: string;
  topics: string[];
}

export interface TelemetryPoint {
  /** Seconds since the epoch (uPlot's x unit). */
  t: number;
  cpu: number;
  loadUsed: number;
  loadCapacity: number;
  ingressBps: number;
  egressBps: number;
}

export interface FeedEvent {
  at: number;
  /** node/stream: a state change seen on MQTT; event: a platform event (GET /v1/events, ADR 0097). */
  kind: "node" | "stream" | "event";
  /** A platform event's id and type (the same event may come from the API and from MQTT). */
  id?: string;
  type?: string;
  subject: string;
  text: string;
  /** true for the retained message found on connect (a state, not a change seen live). */
  retained: boolean;
}

const HISTORY = 600;
const EVENTS = 200;

type Listener = () => void;

class Feed {
  client: MqttClient | undefined;
  status: "idle" | "connecting" | "connected" | "error" = "idle";
  error = "";
  readonly telemetry = new Map<string, TelemetryPoint[]>();
  readonly events: FeedEvent[] = [];
  readonly messages = { total: 0, rejected: 0 };
  readonly #nodeState = new Map<string, string>();
  readonly #streamStatus = new Map<string, string>();
  readonly #listeners = new Set<Listener>();

  subscribe(fn: Listener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #notify(): void {
    for (const fn of this.#listeners) fn();
  }

  async start(): Promise<void> {
    if (this.client || this.status === "connecting") return;
    this.status = "connecting";
    this.#notify();
    let access: MqttAccess;
    try {
      access = await api<MqttAccess>("GET", "/v1/telemetry/mqtt");
    } catch (err) {
      this.status = "error";
      this.error = `no MQTT access: ${(err as Error).message}`;
      this.#notify();
      return;
    }
    void this.#loadHistory();
    const client = mqtt.connect(access.url, {
      username: access.username,
      password: access.password,
      protocolVersion: 4,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      clean: true,
    });
    this.client = client;
    client.on("connect", () => {
      this.status = "connected";
      this.error = "";
      client.subscribe(access.topics, { qos: 0 }, (err) => {
        if (err) this.error = `subscribe: ${err.message}`;
        this.#notify();
      });
      this.#notify();
    });
    client.on("error", (err) => {
      this.status = "error";
      this.error = err.message;
      this.#notify();
    });
    client.on("close", () => {
      if (this.status === "connected") this.status = "connecting";
      this.#notify();
    });
    client.on("message", (topic, payload, packet) => this.#onMessage(topic, payload, packet.retain));
  }

  /** On sign-out: close, and forget what was seen (the next key may see less). */
  stop(): void {
    this.client?.end(true);
    this.client = undefined;
    this.status = "idle";
    this.error = "";
    this.telemetry.clear();
    this.events.length = 0;
    this.#nodeState.clear();
    this.#streamStatus.clear();
    this.messages.total = 0;
    this.messages.rejected = 0;
  }

  #onMessage(topic: string, payload: Uint8Array, retained: boolean): void {
    this.messages.total++;
    const parsed = parseTopic(topic);
    if (!parsed || payload.length === 0) return;
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(payload));
    } catch {
      this.messages.rejected++;
      return;
    }
    if (parsed.kind === "nodeTelemetry" && Value.Check(NodeTelemetry, body)) {
      const list = this.telemetry.get(parsed.nodeId) ?? [];
      list.push({
        t: body.ts / 1000,
        cpu: body.cpu,
        loadUsed: body.loadUsed,
        loadCapacity: body.loadCapacity,
        ingressBps: body.ingressBps,
        egressBps: body.egressBps,
      });
      if (list.length > HISTORY) list.splice(0, list.length - HISTORY);
      this.telemetry.set(parsed.nodeId, list);
    } else if (parsed.kind === "nodeState" && Value.Check(NodeState, body)) {
      const prev = this.#nodeState.get(parsed.nodeId);
      if (prev !== body.state) {
        this.#nodeState.set(parsed.nodeId, body.state);
        this.#event({
          at: body.ts ?? Date.now(),
          kind: "node",
          subject: parsed.nodeId,
          text: `node ${parsed.nodeId} ${body.state}`,
          retained,
        });
      }
    } else if (parsed.kind === "streamStatus" && Value.Check(StreamStatusMessage, body)) {
      const prev = this.#streamStatus.get(body.id);
      if (prev !== body.status) {
        this.#streamStatus.set(body.id, body.status);
        const why = body.lastError ? ` (${body.lastError})` : "";
        this.#event({
          at: body.ts,
          kind: "stream",
          subject: body.id,
          text: `stream ${body.id} ${prev ? `${prev} → ` : ""}${body.status} on ${body.nodeId}${why}`,
          retained,
        });
      }
    } else if (parsed.kind === "event" && Value.Check(PlatformEvent, body)) {
      this.#platform(body);
    } else if (parsed.kind !== "nodeAnnounce") {
      this.messages.rejected++;
      return;
    }
    this.#notify();
  }

  /** The recent platform events from the API: what happened before this tab opened. */
  async #loadHistory(): Promise<void> {
    try {
      const page = await api<{ items: unknown[] }>("GET", "/v1/events?limit=50");
      for (const e of page.items) if (Value.Check(PlatformEvent, e)) this.#platform(e);
      this.#notify();
    } catch (err) {
      this.error = `events: ${(err as Error).message}`;
      this.#notify();
    }
  }

  /** A platform event, once by id, in time order with the rest (newest first). */
  #platform(e: Platform): void {
    if (this.events.some((x) => x.id === e.id)) return;
    const data = e.data as { id?: unknown; name?: unknown; nodeId?: unknown; error?: unknown };
    const subject = typeof data.id === "string" ? data.id : "";
    const name = typeof data.name === "string" && data.name ? ` (${data.name})` : "";
    const on = e.type.startsWith("stream.") && typeof data.nodeId === "string" ? ` on ${data.nodeId}` : "";
    const why = typeof data.error === "string" ? `: ${data.error}` : "";
    const item: FeedEvent = {
      at: Date.parse(e.createdAt),
      kind: "event",
      id: e.id,
      type: e.type,
      subject,
      text: `${e.type} ${subject}${name}${on}${why}`,
      retained: false,
    };
    const i = this.events.findIndex((x) => x.at < item.at);
    this.events.splice(i < 0 ? this.events.length : i, 0, item);
    if (this.events.length > EVENTS) this.events.length = EVENTS;
  }

  #event(e: FeedEvent): void {
    this.events.unshift(e);
    if (this.events.length > EVENTS) this.events.length = EVENTS;
  }
}

export const feed = new Feed();
