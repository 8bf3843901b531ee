/**
 * The network layer of control: the MQTT bus (embedded aedes broker unless MQTT_URL is set),
 * the node registry fed by announce/state/telemetry, and, on the instance holding the scheduler
 * lease, reconciliation: failover, drain, placement of pull streams, desired state per node and
 * routes per stream, published (retained) only when they change.
 */
import { hostname } from "node:os";
import {
  type Logger,
  type NodeAnnounce,
  type NodeState,
  type NodeTelemetry,
  randomBase62,
  type StreamStatusMessage,
} from "@dionysia/shared";
import type { Client } from "@libsql/client";
import { and, eq, isNull, or, type SQL, sql } from "drizzle-orm";
import { Gauge, type Registry } from "prom-client";
import type { ControlConfig } from "../config.ts";
import type { Db } from "../db/client.ts";
import { nodes, profiles, streams } from "../db/schema.ts";
import type { ControlEvents } from "../events.ts";
import {
  ControlBus,
  type ControlBusHandler,
  type EmbeddedBroker,
  startEmbeddedBroker,
} from "../mqtt/index.ts";
import { buildDesired, buildRoute, type RouteNode } from "../mqtt/messages.ts";
import { nodeViews, recordNodeTelemetry, setNodeState, upsertNodeFromAnnounce } from "../nodes/service.ts";
import { LeaseKeeper } from "../scheduler/lease.ts";
import { playbackKeysMessage } from "../signing-keys/service.ts";
import {
  type Assignment,
  desiredFor,
  type NodeSnapshot,
  placementsOf,
  planReconcile,
  type StreamSnapshot,
} from "./plan.ts";

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
  private writes: Promise<unknown> = Promise.resolve();
  private kickTimer: ReturnType<typeof setTimeout> | undefined;
  private intervalTimer: ReturnType<typeof setInterval> | undefined;
  private flushTimer: ReturnType<typeof setInterval> | undefined;
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
    if (c.mqttUrl) {
      this.mqttUrl = c.mqttUrl;
    } else {
      this.broker = await startEmbeddedBroker({
        host: c.embeddedHost,
        port: c.embeddedPort,
        logger: this.d.log,
      });
      this.mqttUrl = this.broker.url;
    }
    this.bus = new ControlBus({
      url: this.mqttUrl,
      handler: this,
      logger: this.d.log,
      username: c.mqttUsername,
      password: c.mqttPassword,
      telemetryIntervalMs: c.telemetryIntervalMs,
      registry: this.d.registry,
    });
    await this.bus.start();
    this.lease = new LeaseKeeper({
      db: this.d.client,
      holder: `${hostname()}-${process.pid}-${randomBase62(6)}`,
      ttlMs: c.leaseTtlMs,
      logger: this.d.log,
    });
    this.lease.on("gained", () => {
      // A new leader republishes everything once: it does not know what the last one sent.
      this.published.clear();
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
    ] as const)
      this.offs.push(this.d.events.on(name, () => this.kick()));
    this.offs.push(
      this.d.events.on("stream.deleted", (e) => {
        this.deletedStreams.add(e.streamId);
        this.kick();
      }),
    );
    this.intervalTimer = setInterval(() => this.kick(), c.reconcileIntervalMs);
    this.flushTimer = setInterval(() => this.flushTelemetry(), 1000);
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.offs) off();
    clearTimeout(this.kickTimer);
    clearInterval(this.intervalTimer);
    clearInterval(this.flushTimer);
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
  }

  onStreamStatus(s: StreamStatusMessage): void {
    this.write("stream status", async () => {
      // Only the node serving the stream may set its status: not a late message from the old node
      // after a failover, nor the ingest-only node of an overflow pair.
      await this.d.db
        .update(streams)
        .set({
          status: s.status,
          updatedAt: Date.now(),
          stats: {
            ...(s.bitrateKbps !== undefined ? { bitrateKbps: s.bitrateKbps } : {}),
            ...(s.fps !== undefined ? { fps: s.fps } : {}),
            ...(s.speed !== undefined ? { speed: s.speed } : {}),
            ...(s.lastError ? { lastError: s.lastError } : {}),
            reportedAt: s.ts,
          },
          ...(s.srtPort ? { srtPort: s.srtPort } : {}),
        })
        .where(
          eqAnd(
            streams.id,
            s.id,
            or(
              eq(streams.transcodeNodeId, s.nodeId),
              and(isNull(streams.transcodeNodeId), eq(streams.nodeId, s.nodeId)),
            ),
          ),
        );
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

  private async snapshot(): Promise<{ nodes: NodeSnapshot[]; rows: RouteNode[]; streams: StreamSnapshot[] }> {
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
      keyHash: s.keyHash,
      srtPassphrase: s.srtPassphrase,
      source: s.source,
      location: s.lat !== null && s.lon !== null ? { lat: s.lat, lon: s.lon } : null,
      region: s.region,
      nodeId: s.nodeId,
      transcodeNodeId: s.transcodeNodeId,
    }));
    const routeNodes: RouteNode[] = rows.map((r) => ({
      id: r.id,
      publicUrl: r.publicUrl,
      region: r.region,
      lat: r.lat,
      lon: r.lon,
      online: r.state === "online",
    }));
    return { nodes: views, rows: routeNodes, streams: snap };
  }

  private async reconcile(): Promise<void> {
    await this.writes;
    if (!this.isLeader || !this.bus) return;
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
    const prev = new Map(before.map((s) => [s.id, s]));
    await this.d.db.transaction(async (tx) => {
      for (const [id, a] of changes) {
        const was = prev.get(id);
        // A new serving node is not live yet: routes wait for its status (publishRoutes).
        const moved = was?.nodeId !== a.nodeId || was?.transcodeNodeId !== a.transcodeNodeId;
        await tx
          .update(streams)
          .set({
            nodeId: a.nodeId,
            transcodeNodeId: a.transcodeNodeId,
            updatedAt: Date.now(),
            ...(moved ? { status: a.nodeId ? ("starting" as const) : ("idle" as const) } : {}),
          })
          .where(eq(streams.id, id));
      }
    });
    for (const [id, a] of changes)
      this.log.info(
        { streamId: id, nodeId: a.nodeId, transcodeNodeId: a.transcodeNodeId, from: prev.get(id)?.nodeId },
        a.nodeId ? "stream placed" : "stream unassigned",
      );
  }

  private async publishDesired(snap: { nodes: NodeSnapshot[]; streams: StreamSnapshot[] }): Promise<void> {
    const relays = new Map(snap.nodes.map((n) => [n.id, { relayUrl: n.relayUrl ?? null }]));
    for (const node of snap.nodes) {
      const entries = desiredFor(node.id, snap.streams, relays);
      const key = `desired/${node.id}`;
      const body = JSON.stringify(entries);
      if (this.published.get(key) === body) continue;
      // Versions live in the database so they keep increasing across leaders.
      const [row] = await this.d.db
        .update(nodes)
        .set({ desiredVersion: sqlIncrement() })
        .where(eq(nodes.id, node.id))
        .returning({ v: nodes.desiredVersion });
      if (!row) continue;
      await this.bus?.publishDesired(node.id, buildDesired(node.id, row.v, entries));
      this.published.set(key, body);
      this.log.info({ nodeId: node.id, version: row.v, streams: entries.length }, "desired state published");
    }
  }

  private async publishRoutes(snap: { rows: RouteNode[]; streams: StreamSnapshot[] }): Promise<void> {
    const nodeMap = new Map(snap.rows.map((n) => [n.id, n]));
    const present = new Set<string>();
    for (const s of snap.streams) {
      present.add(s.id);
      const placements = placementsOf(s);
      // Routes follow readiness: while a (new) serving node is not live yet, the published route
      // stays as it was, so routers answer 503 (its old node is offline) rather than sending
      // viewers to an origin that would answer 404 until its first segment.
      if (placements.length > 0 && s.status !== "live") continue;
      const route = buildRoute({ id: s.id, playbackPolicy: s.playbackPolicy }, placements, nodeMap);
      const key = `route/${s.id}`;
      const body = route ? JSON.stringify({ ...route, ts: 0 }) : "";
      if (this.published.get(key) === body) continue;
      if (route) {
        await this.bus?.publishRoute(route);
        this.routedStreams.add(s.id);
      } else if (this.routedStreams.has(s.id) || this.published.has(key)) {
        await this.bus?.deleteRoute(s.id);
        this.routedStreams.delete(s.id);
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

function eqAnd(col: typeof streams.id, id: string, extra: SQL | undefined): SQL | undefined {
  return and(eq(col, id), extra);
}

function sqlIncrement() {
  return sql`${nodes.desiredVersion} + 1`;
}
