/**
 * The network layer of control, I/O only: the MQTT bus (embedded aedes broker unless MQTT_URL is
 * set), the scheduler lease, and publishing. Bus messages are written through nodes/ and streams/
 * (the one writer of each row); on the instance holding the lease, each reconcile pass reads a
 * snapshot, applies the scheduler's decisions (scheduler/reconcile.ts) and publishes desired
 * state per node and routes per stream (scheduler/routes.ts), retained, only when they change.
 */
import { hostname } from "node:os";
import {
  type AssetReport,
  type Logger,
  type NodeAnnounce,
  type NodeState,
  type NodeTelemetry,
  type Route,
  randomBase62,
  reconnectWindowSeconds,
  type StreamStatusMessage,
} from "@dionysia/shared";
import type { Client } from "@libsql/client";
import { eq } from "drizzle-orm";
import { Gauge, type Registry } from "prom-client";
import {
  expireAssets,
  pendingRemovals,
  recordAssetRemoved,
  recordAssetReport,
  routedAssets,
} from "../assets/service.ts";
import type { ControlConfig } from "../config.ts";
import type { Db } from "../db/client.ts";
import { profiles, streams } from "../db/schema.ts";
import type { ControlEvents } from "../events.ts";
import {
  buildDesired,
  ControlBus,
  type ControlBusHandler,
  controlBusOptions,
  type EmbeddedBroker,
  embeddedBrokerOptions,
  MQTT_WS_PATH,
  startEmbeddedBroker,
} from "../mqtt/index.ts";
import {
  nextDesiredVersion,
  nodeViews,
  recordNodeTelemetry,
  setNodeState,
  toRouteNode,
  upsertNodeFromAnnounce,
} from "../nodes/service.ts";
import { continueFromFor } from "../scheduler/continuation.ts";
import {
  type Assignment,
  desiredFor,
  type NodeSnapshot,
  planReconcile,
  type StreamSnapshot,
} from "../scheduler/reconcile.ts";
import { type RouteNode, routeFor, routeForAsset } from "../scheduler/routes.ts";
import { playbackKeysMessage } from "../signing-keys/service.ts";
import { applyAssignments, closeExpiredWindows, recordStreamStatus } from "../streams/assignment.ts";
import { EventFeed } from "./event-feed.ts";
import { LeaseKeeper } from "./lease.ts";

export interface NetworkDeps {
  db: Db;
  client: Client;
  events: ControlEvents;
  log: Logger;
  config: ControlConfig;
  registry: Registry;
}

export class Network implements ControlBusHandler {
  bus: ControlBus | undefined;
  broker: EmbeddedBroker | undefined;
  lease: LeaseKeeper | undefined;
  mqttUrl = "";
  /** topic → last payload published by this leader (without version/ts), to publish on change only. */
  private readonly published = new Map<string, string>();
  private readonly routedStreams = new Set<string>();
  private readonly deletedStreams = new Set<string>();
  private readonly telemetry = new Map<string, NodeTelemetry>();
  /** The last reported playlist position of each stream, and the node it was on (ADR 0091). */
  private readonly positions = new Map<
    string,
    { nodeId: string; mediaSequence: number; discontinuitySequence: number }
  >();
  private writes: Promise<unknown> = Promise.resolve();
  private kickTimer: ReturnType<typeof setTimeout> | undefined;
  private intervalTimer: ReturnType<typeof setInterval> | undefined;
  private flushTimer: ReturnType<typeof setInterval> | undefined;
  private feedTimer: ReturnType<typeof setInterval> | undefined;
  private feed: EventFeed | undefined;
  private feeding = false;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly offs: (() => void)[] = [];
  private readonly log: Logger;

  constructor(private readonly d: NetworkDeps) {
    this.log = d.log.child({ component: "network" });
    const net = this;
    new Gauge({
      name: "dionysia_control_scheduler_leader",
      help: "1 on the control instance holding the scheduler lease",
      registers: [d.registry],
      collect() {
        this.set(net.isLeader ? 1 : 0);
      },
    });
  }

  async start(): Promise<void> {
    const c = this.d.config;
    if (!c.mqttUrl)
      this.broker = await startEmbeddedBroker(embeddedBrokerOptions(c, this.d.log, this.d.registry));
    const busOptions = controlBusOptions(c, this.broker);
    this.mqttUrl = busOptions.url;
    this.bus = new ControlBus({
      ...busOptions,
      handler: this,
      logger: this.d.log,
      registry: this.d.registry,
    });
    await this.bus.start();
    // GET /v1/telemetry/mqtt hands browsers the WebSocket listener's real port (0 = a free one).
    this.d.events.emit("mqtt.started", {
      url: this.mqttUrl,
      embedded: !!this.broker,
      ...(this.broker?.wsPort !== undefined ? { ws: { port: this.broker.wsPort, path: MQTT_WS_PATH } } : {}),
    });
    this.lease = new LeaseKeeper({
      db: this.d.client,
      holder: `${hostname()}-${process.pid}-${randomBase62(6)}`,
      ttlMs: c.leaseTtlMs,
      logger: this.d.log,
    });
    this.feed = new EventFeed(this.d.db, (e) => this.bus?.publishEvent(e) ?? Promise.resolve());
    this.lease.on("gained", () => {
      // A new leader republishes everything once: it does not know what the last one sent.
      this.published.clear();
      void this.feed?.reset().catch((err) => this.log.error({ err }, "event feed reset failed"));
      this.kick();
    });
    await this.lease.start();
    for (const name of [
      "stream.created",
      "stream.updated",
      "stream.assigned",
      "stream.keyRotated",
      "node.updated",
      "signingKeys.changed", // signed playback (ADR 0060)
      "asset.deleted", // its route goes; its node is told to remove it (ADR 0095)
    ] as const)
      this.offs.push(this.d.events.on(name, () => this.kick()));
    this.offs.push(
      this.d.events.on("node.deleted", (e) => {
        // An external broker would otherwise hand the node's retained announce back to every
        // control (and the node would come back online) after a restart.
        this.published.delete(`desired/${e.nodeId}`);
        void this.bus
          ?.forgetNode(e.nodeId)
          .catch((err) => this.log.error({ err, nodeId: e.nodeId }, "clearing retained node topics failed"));
      }),
    );
    this.offs.push(
      this.d.events.on("stream.deleted", (e) => {
        this.deletedStreams.add(e.streamId);
        this.positions.delete(e.streamId);
        this.kick();
      }),
    );
    this.intervalTimer = setInterval(() => this.kick(), c.reconcileIntervalMs);
    this.flushTimer = setInterval(() => this.flushTelemetry(), 1000);
    this.feedTimer = setInterval(() => void this.relayEvents(), this.d.config.eventFeedIntervalMs);
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.offs) off();
    clearTimeout(this.kickTimer);
    clearInterval(this.intervalTimer);
    clearInterval(this.flushTimer);
    clearInterval(this.feedTimer);
    await this.running;
    await this.writes;
    await this.lease?.stop({ release: true });
    await this.bus?.close();
    await this.broker?.close();
  }

  get isLeader(): boolean {
    return this.lease?.isLeader ?? false;
  }

  // --- bus handler: registry writes, serialized so a state never overtakes its announce ------

  private write(what: string, fn: () => Promise<unknown>): void {
    this.writes = this.writes.then(fn).catch((err) => this.log.error({ err, what }, "registry write failed"));
  }

  onAnnounce(a: NodeAnnounce): void {
    this.write("announce", () => upsertNodeFromAnnounce(this.d.db, a, this.d.events));
  }

  onState(nodeId: string, s: NodeState, source: string): void {
    this.log.info({ nodeId, state: s.state, source }, "node state");
    this.write("state", () => setNodeState(this.d.db, nodeId, s.state, this.d.events));
  }

  onTelemetry(nodeId: string, t: NodeTelemetry): void {
    // Batched: thousands of nodes report every 2 s; one transaction a second writes them all.
    this.telemetry.set(nodeId, t);
    // Where each stream's playlists stand, in memory: a node that takes a session over goes on.
    for (const s of t.streams)
      if (s.nextMediaSequence !== undefined && s.role !== "ingest")
        this.positions.set(s.id, {
          nodeId,
          mediaSequence: s.nextMediaSequence,
          discontinuitySequence: s.discontinuitySequence ?? 0,
        });
  }

  onAsset(nodeId: string, assetId: string, report: AssetReport | undefined): void {
    this.write("asset", async () => {
      if (!report) {
        await recordAssetRemoved(this.d.db, nodeId, assetId);
        this.log.info({ nodeId, assetId }, "asset removed by its node");
      } else if (await recordAssetReport(this.d.db, nodeId, report)) {
        this.log.info({ nodeId, assetId, streamId: report.streamId }, "asset reported");
      } else {
        this.log.warn(
          { nodeId, assetId, streamId: report.streamId },
          "asset report dropped: unknown stream or another node's asset",
        );
      }
      this.kick();
    });
  }

  onStreamStatus(s: StreamStatusMessage): void {
    this.write("stream status", async () => {
      await recordStreamStatus(this.d.db, s, this.d.config.reconnectGraceMs);
      // A stream going live (or leaving live) changes its route.
      this.kick();
    });
  }

  private flushTelemetry(): void {
    if (this.telemetry.size === 0) return;
    const batch = [...this.telemetry];
    this.telemetry.clear();
    this.write("telemetry", async () => {
      for (const [nodeId, t] of batch) await recordNodeTelemetry(this.d.db, nodeId, t);
    });
  }

  // --- reconciliation (leader only) ------------------------------------------------------------

  /** Coalesces bursts of events into one reconcile pass. */
  kick(): void {
    if (this.stopped || this.kickTimer) return;
    this.kickTimer = setTimeout(() => {
      this.kickTimer = undefined;
      if (this.running) {
        this.again = true;
        return;
      }
      this.running = this.reconcile()
        .catch((err) => this.log.error({ err }, "reconcile failed"))
        .finally(() => {
          this.running = undefined;
          if (this.again) {
            this.again = false;
            this.kick();
          }
        });
    }, 20);
  }

  /** One pass; exported for tests through `reconcileNow`. */
  async reconcileNow(): Promise<void> {
    await this.writes;
    await this.reconcile();
  }

  private async snapshot(): Promise<{
    nodes: NodeSnapshot[];
    rows: RouteNode[];
    streams: StreamSnapshot[];
    assets: { id: string; nodeId: string | null; policy: "public" | "signed" }[];
    removals: Map<string, string[]>;
  }> {
    const [{ rows, views }, srows] = await Promise.all([
      nodeViews(this.d.db),
      this.d.db
        .select({ s: streams, spec: profiles.spec })
        .from(streams)
        .innerJoin(profiles, eq(streams.profileId, profiles.id)),
    ]);
    const snap: StreamSnapshot[] = srows.map(({ s, spec }) => ({
      id: s.id,
      playbackPolicy: s.playbackPolicy,
      status: s.status,
      profile: spec,
      reconnectWindowSeconds: s.reconnectWindowSeconds,
      record: s.record,
      keyHash: s.keyHash,
      srtPassphrase: s.srtPassphrase,
      source: s.source,
      location: s.lat !== null && s.lon !== null ? { lat: s.lat, lon: s.lon } : null,
      region: s.region,
      nodeId: s.nodeId,
      transcodeNodeId: s.transcodeNodeId,
      admitted: s.admittedRenditions,
      srtPort: s.srtPort,
      liveNodeId: s.liveNodeId,
      reservedUntil: s.reservedUntil,
      ...this.continuation(s),
    }));
    const routeNodes = rows.map(toRouteNode);
    const [assetRows, removals] = await Promise.all([routedAssets(this.d.db), pendingRemovals(this.d.db)]);
    return { nodes: views, rows: routeNodes, streams: snap, assets: assetRows, removals };
  }

  /** A session that moved to another node goes on from where the old one was (ADR 0091). */
  private continuation(s: { id: string } & Parameters<typeof continueFromFor>[0]) {
    const from = continueFromFor(s, this.positions.get(s.id));
    return from ? { continueFrom: from } : {};
  }

  /** The MQTT event feed (ADR 0097), on the scheduler lease holder only. */
  private async relayEvents(): Promise<void> {
    if (this.feeding || this.stopped || !this.isLeader || !this.bus || !this.feed) return;
    this.feeding = true;
    try {
      await this.feed.pass();
    } catch (err) {
      this.log.warn({ err }, "event feed pass failed");
    } finally {
      this.feeding = false;
    }
  }

  private async reconcile(): Promise<void> {
    await this.writes;
    if (!this.isLeader || !this.bus) return;
    const closed = await closeExpiredWindows(this.d.db);
    if (closed.length > 0) this.log.info({ streamIds: closed }, "reconnect windows closed");
    const expired = await expireAssets(this.d.db);
    if (expired.length > 0) this.log.info({ assetIds: expired }, "assets past their retention deleted");
    let snap = await this.snapshot();
    const changes = planReconcile(snap.streams, snap.nodes, { tieKm: this.d.config.placementTieKm });
    if (changes.size > 0) {
      await this.applyAssignments(changes, snap.streams);
      snap = await this.snapshot();
    }
    await this.publishDesired(snap);
    await this.publishRoutes(snap);
    await this.publishPlaybackKeys(); // signed playback (ADR 0060)
  }

  /** Signed playback (ADR 0060): the live public keys, retained, published when they change. */
  private async publishPlaybackKeys(): Promise<void> {
    const msg = await playbackKeysMessage(this.d.db);
    const body = JSON.stringify(msg);
    if (this.published.get("keys") === body) return;
    await this.bus?.publishPlaybackKeys(msg);
    this.published.set("keys", body);
  }

  private async applyAssignments(changes: Map<string, Assignment>, before: StreamSnapshot[]): Promise<void> {
    const prev = new Map(
      before.map((s) => [
        s.id,
        // Pull streams are placed again by the scheduler: only a push waits for its streamer.
        { ...s, reconnectWindowMs: s.source === null ? reconnectWindowSeconds(s, s.profile) * 1000 : 0 },
      ]),
    );
    await applyAssignments(this.d.db, changes, prev);
    for (const [id, a] of changes)
      this.log.info(
        { streamId: id, nodeId: a.nodeId, transcodeNodeId: a.transcodeNodeId, from: prev.get(id)?.nodeId },
        a.nodeId ? "stream placed" : "stream unassigned",
      );
  }

  private async publishDesired(snap: {
    nodes: NodeSnapshot[];
    streams: StreamSnapshot[];
    removals: Map<string, string[]>;
  }): Promise<void> {
    const relays = new Map(snap.nodes.map((n) => [n.id, { relayUrl: n.relayUrl ?? null }]));
    for (const node of snap.nodes) {
      const entries = desiredFor(node.id, snap.streams, relays);
      const remove = snap.removals.get(node.id) ?? [];
      const key = `desired/${node.id}`;
      const body = JSON.stringify([entries, remove]);
      if (this.published.get(key) === body) continue;
      const version = await nextDesiredVersion(this.d.db, node.id);
      if (version === undefined) continue;
      await this.bus?.publishDesired(node.id, buildDesired(node.id, version, entries, remove));
      this.published.set(key, body);
      this.log.info({ nodeId: node.id, version, streams: entries.length }, "desired state published");
    }
  }

  private async publishRoutes(snap: {
    rows: RouteNode[];
    streams: StreamSnapshot[];
    assets: { id: string; nodeId: string | null; policy: "public" | "signed" }[];
  }): Promise<void> {
    const nodeMap = new Map(snap.rows.map((n) => [n.id, n]));
    const present = new Set<string>();
    const routed: { id: string; route: Route | null }[] = [
      // The same rules as GET /v1/routes: both answer alike during a failover.
      ...snap.streams.map((s) => ({ id: s.id, route: routeFor(s, nodeMap) })),
      ...snap.assets.map((a) => ({ id: a.id, route: routeForAsset(a, nodeMap) })),
    ];
    for (const { id, route } of routed) {
      present.add(id);
      const key = `route/${id}`;
      const body = route ? JSON.stringify({ ...route, ts: 0 }) : "";
      if (this.published.get(key) === body) continue;
      if (route) {
        await this.bus?.publishRoute(route);
        this.routedStreams.add(id);
      } else if (this.routedStreams.has(id) || this.published.has(key)) {
        await this.bus?.deleteRoute(id);
        this.routedStreams.delete(id);
      }
      this.published.set(key, body);
    }
    for (const id of [...this.deletedStreams, ...this.routedStreams]) {
      if (present.has(id)) continue;
      await this.bus?.deleteRoute(id);
      this.routedStreams.delete(id);
      this.published.delete(`route/${id}`);
    }
    this.deletedStreams.clear();
  }
}
