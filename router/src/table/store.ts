/**
 * The in-memory route table: stream id → origins, plus which nodes are offline.
 * Bootstrap snapshots and MQTT updates both land here (ADR 0054 for how they are merged).
 * `choose` is the whole per-request cost: one Map lookup and one distance per healthy origin.
 */
import { haversineKm, type LatLon } from "../../../shared/src/geo.ts";
import type { Route, RouteOrigin } from "../../../shared/src/schemas/mqtt.ts";

/** An origin as the hot path needs it: base URL without a trailing slash. */
export interface Origin {
  nodeId: string;
  base: string;
  region: string;
  lat: number;
  lon: number;
  role: RouteOrigin["role"];
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

function toEntry(r: Route): Entry {
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
      })),
  };
}

export class RouteTable {
  private readonly routes = new Map<string, Entry>();
  private readonly offline = new Set<string>();
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

  /** A live update from MQTT (retained or fresh). */
  upsert(route: Route, now = Date.now()): void {
    this.routes.set(route.id, toEntry(route));
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
      this.routes.set(r.id, toEntry(r));
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
    let best: Origin | undefined;
    let bestD = Number.POSITIVE_INFINITY;
    for (const o of entry.origins) {
      if (this.offline.has(o.nodeId)) continue;
      if (!pos) {
        best = o;
        break;
      }
      const d = haversineKm(o, pos);
      if (d < bestD) {
        bestD = d;
        best = o;
      }
    }
    return best ? { kind: "ok", origin: best, entry } : { kind: "down", entry };
  }

  /** Online origins ordered by distance (proxy mode's failover order). */
  candidates(entry: Entry, pos: LatLon | undefined): Origin[] {
    const up = entry.origins.filter((o) => !this.offline.has(o.nodeId));
    if (!pos) return up;
    return up
      .map((o) => ({ o, d: haversineKm(o, pos) }))
      .sort((a, b) => a.d - b.d)
      .map((x) => x.o);
  }
}
