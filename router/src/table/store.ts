/**
 * The in-memory route table: stream id → origins, plus which nodes are offline.
 * Bootstrap snapshots and MQTT updates both land here (ADR 0054 for how they are merged).
 * `pick` is the whole per-request cost: one Map lookup and one distance per healthy origin, with the
 * origins' trigonometry done when the route arrives (ADR 0057).
 */
import { haversineKm, type LatLon } from "../../../shared/src/geo.ts";
import type { Route, RouteOrigin } from "../../../shared/src/schemas/mqtt.ts";

const RAD = Math.PI / 180;

/** A node's health, shared by every origin entry on that node so the hot path reads a field. */
interface NodeState {
  online: boolean;
}

/** An origin as the hot path needs it: base URL without a trailing slash, coordinates in radians. */
export interface Origin {
  nodeId: string;
  base: string;
  region: string;
  lat: number;
  lon: number;
  role: RouteOrigin["role"];
  latRad: number;
  lonRad: number;
  cosLat: number;
  node: NodeState;
}

export interface Entry {
  id: string;
  policy: Route["policy"];
  /** Origins that serve playback, in control's order (the first is the primary). */
  origins: Origin[];
}

export type Choice =
  | { kind: "ok"; origin: Origin; entry: Entry }
  | { kind: "unknown" }
  | { kind: "down"; entry: Entry };

export class RouteTable {
  private readonly routes = new Map<string, Entry>();
  private readonly offline = new Set<string>();
  /** One state object per node id ever named; `offline` mirrors the ones that are down. */
  private readonly nodes = new Map<string, NodeState>();
  /** Local time of the last MQTT change per stream id, so an older snapshot cannot undo it. */
  private readonly liveTouched = new Map<string, number>();
  private bootstrapped = false;
  /** Bumped on every change; lets observers (tests, metrics) wait for a change. */
  version = 0;

  get size(): number {
    return this.routes.size;
  }
  get offlineNodes(): number {
    return this.offline.size;
  }
  get hasBootstrapped(): boolean {
    return this.bootstrapped;
  }

  get(id: string): Entry | undefined {
    return this.routes.get(id);
  }

  ids(): string[] {
    return [...this.routes.keys()];
  }

  isOnline(nodeId: string): boolean {
    return !this.offline.has(nodeId);
  }

  private node(nodeId: string): NodeState {
    let n = this.nodes.get(nodeId);
    if (!n) {
      n = { online: !this.offline.has(nodeId) };
      this.nodes.set(nodeId, n);
    }
    return n;
  }

  private toEntry(r: Route): Entry {
    return {
      id: r.id,
      policy: r.policy,
      // An `ingest` node only relays the push to a transcoding peer: it has no HLS to serve.
      origins: r.origins
        .filter((o) => o.role !== "ingest")
        .map((o) => ({
          nodeId: o.nodeId,
          base: o.url.replace(/\/+$/, ""),
          region: o.region,
          lat: o.lat,
          lon: o.lon,
          role: o.role,
          latRad: o.lat * RAD,
          lonRad: o.lon * RAD,
          cosLat: Math.cos(o.lat * RAD),
          node: this.node(o.nodeId),
        })),
    };
  }

  /** A live update from MQTT (retained or fresh). */
  upsert(route: Route, now = Date.now()): void {
    this.routes.set(route.id, this.toEntry(route));
    this.liveTouched.set(route.id, now);
    this.version++;
  }

  /** An empty retained payload on the route topic. */
  delete(id: string, now = Date.now()): boolean {
    this.liveTouched.set(id, now);
    this.version++;
    return this.routes.delete(id);
  }

  setNodeOnline(nodeId: string, online: boolean): void {
    if (online) this.offline.delete(nodeId);
    else this.offline.add(nodeId);
    this.node(nodeId).online = online;
    this.version++;
  }

  /**
   * Applies a full snapshot from control, requested at `requestedAt`. Streams that MQTT changed
   * after the request went out keep the MQTT version (it is newer); everything else mirrors the
   * snapshot, so routes deleted while the router was disconnected disappear.
   */
  applySnapshot(routes: readonly Route[], requestedAt: number): void {
    const seen = new Set<string>();
    for (const r of routes) {
      seen.add(r.id);
      if ((this.liveTouched.get(r.id) ?? -1) >= requestedAt) continue;
      this.routes.set(r.id, this.toEntry(r));
    }
    for (const id of [...this.routes.keys()]) {
      if (!seen.has(id) && (this.liveTouched.get(id) ?? -1) < requestedAt) this.routes.delete(id);
    }
    // Old marks can no longer win against anything: keep the map small.
    for (const [id, t] of this.liveTouched) if (t < requestedAt) this.liveTouched.delete(id);
    this.bootstrapped = true;
    this.version++;
  }

  /**
   * Nearest online origin to `pos`; without a position, the first online origin in control's order
   * (the primary unless it is down).
   */
  choose(id: string, pos: LatLon | undefined): Choice {
    const entry = this.routes.get(id);
    if (!entry) return { kind: "unknown" };
    const origin = this.pick(entry, pos);
    return origin ? { kind: "ok", origin, entry } : { kind: "down", entry };
  }

  /**
   * `choose` without the result object, for the hot path: undefined when every origin is down.
   * Compares the haversine term `sin²(Δφ/2) + cosφ₁cosφ₂sin²(Δλ/2)` directly: it grows with the
   * distance, so the nearest origin is the same without the square root and arcsine.
   */
  pick(entry: Entry, pos: LatLon | undefined): Origin | undefined {
    const origins = entry.origins;
    if (!pos) {
      for (const o of origins) if (o.node.online) return o;
      return undefined;
    }
    const lat = pos.lat * RAD;
    const lon = pos.lon * RAD;
    const cosLat = Math.cos(lat);
    let best: Origin | undefined;
    let bestS = Number.POSITIVE_INFINITY;
    for (let i = 0; i < origins.length; i++) {
      const o = origins[i] as Origin;
      if (!o.node.online) continue;
      const a = Math.sin((o.latRad - lat) / 2);
      const b = Math.sin((o.lonRad - lon) / 2);
      const s = a * a + o.cosLat * cosLat * b * b;
      if (s < bestS) {
        bestS = s;
        best = o;
      }
    }
    return best;
  }

  /** Online origins ordered by distance (proxy mode's failover order). */
  candidates(entry: Entry, pos: LatLon | undefined): Origin[] {
    const up = entry.origins.filter((o) => o.node.online);
    if (!pos) return up;
    return up
      .map((o) => ({ o, d: haversineKm(o, pos) }))
      .sort((a, b) => a.d - b.d)
      .map((x) => x.o);
  }
}
