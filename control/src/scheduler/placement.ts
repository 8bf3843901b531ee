/**
 * Stream placement: pure functions over a snapshot of nodes (no I/O, no clock).
 *
 * Rule (docs/architecture.md, "Scheduling"): the nearest node by great-circle distance to the stream's
 * location among nodes that are online, not cordoned or draining, and have headroom for the
 * stream's cost; nodes within `tieKm` of the nearest count as equally near and the least
 * loaded of them wins. Without a location: the least loaded eligible node of the stream's
 * region, else the least loaded eligible node anywhere.
 *
 * `placeStream` accepts a plain array (linear scan, right for the tens to hundreds of nodes a
 * deployment has) or a `PlacementIndex` (a k-d tree over unit vectors with a per-subtree
 * maximum headroom, for thousands of nodes; see bench/placement.ts).
 */
import { haversineKm, isValidLatLon, type LatLon } from "@dionysia/shared";

export interface NodeView {
  id: string;
  lat: number;
  lon: number;
  region: string;
  online: boolean;
  cordoned: boolean;
  draining: boolean;
  /** Announced capacity in load units (shared/src/profile/cost.ts). */
  capacity: number;
  /** Load units in use (assigned streams, or reported by telemetry, whichever is larger). */
  used: number;
  /** Where peers pull this node's ingested streams from (announce `ingest.relay`). */
  relayUrl?: string | null;
}

export interface StreamDemand {
  cost: number;
  location?: LatLon | null;
  region?: string | null;
}

export interface PlaceOptions {
  /** Nodes whose distances differ by less than this are equally near (default 1 km). */
  tieKm?: number;
  /** Never place on these nodes (the dead node in failover, the ingest node in overflow). */
  exclude?: ReadonlySet<string> | null;
}

export type Placement = { nodeId: string } | { error: "no_capacity" };

const DEFAULT_TIE_KM = 1;

export function isEligible(n: NodeView): boolean {
  return n.online && !n.cordoned && !n.draining;
}

export function headroom(n: { capacity: number; used: number }): number {
  return n.capacity - n.used;
}

/** Load fraction; a node without capacity is treated as full. */
function utilization(capacity: number, used: number): number {
  return capacity > 0 ? used / capacity : Number.POSITIVE_INFINITY;
}

/** True when (capA, usedA, idA) is less loaded than (capB, usedB, idB); ids make it deterministic. */
function lessLoaded(capA: number, usedA: number, idA: string, capB: number, usedB: number, idB: string) {
  const ua = utilization(capA, usedA);
  const ub = utilization(capB, usedB);
  if (ua !== ub) return ua < ub;
  const ha = capA - usedA;
  const hb = capB - usedB;
  if (ha !== hb) return ha > hb;
  return idA < idB;
}

function fits(n: NodeView, cost: number, exclude: ReadonlySet<string> | null | undefined): boolean {
  return isEligible(n) && n.capacity - n.used >= cost && !exclude?.has(n.id);
}

function leastLoaded(nodes: readonly NodeView[], pred: (n: NodeView) => boolean): NodeView | undefined {
  let best: NodeView | undefined;
  for (const n of nodes) {
    if (!pred(n)) continue;
    if (!best || lessLoaded(n.capacity, n.used, n.id, best.capacity, best.used, best.id)) best = n;
  }
  return best;
}

function placeLinear(s: StreamDemand, nodes: readonly NodeView[], o: PlaceOptions): Placement {
  const tie = o.tieKm ?? DEFAULT_TIE_KM;
  const ok = (n: NodeView) => fits(n, s.cost, o.exclude);
  if (isValidLatLon(s.location)) {
    const loc = s.location;
    let bestKm = Number.POSITIVE_INFINITY;
    const dist = new Float64Array(nodes.length).fill(Number.NaN);
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i] as NodeView;
      if (!ok(n)) continue;
      const d = haversineKm(loc, n);
      dist[i] = d;
      if (d < bestKm) bestKm = d;
    }
    if (bestKm === Number.POSITIVE_INFINITY) return { error: "no_capacity" };
    let best: NodeView | undefined;
    for (let i = 0; i < nodes.length; i++) {
      const d = dist[i] as number;
      if (!(d <= bestKm + tie)) continue;
      const n = nodes[i] as NodeView;
      if (!best || lessLoaded(n.capacity, n.used, n.id, best.capacity, best.used, best.id)) best = n;
    }
    return best ? { nodeId: best.id } : { error: "no_capacity" };
  }
  const region = s.region;
  const inRegion = region ? leastLoaded(nodes, (n) => n.region === region && ok(n)) : undefined;
  const pick = inRegion ?? leastLoaded(nodes, ok);
  return pick ? { nodeId: pick.id } : { error: "no_capacity" };
}

/** Places one stream. Does not change `nodes`; call `PlacementIndex.assign` (or add the cost yourself). */
export function placeStream(
  stream: StreamDemand,
  nodes: readonly NodeView[] | PlacementIndex,
  opts: PlaceOptions = {},
): Placement {
  if (nodes instanceof PlacementIndex) return nodes.place(stream, opts);
  return placeLinear(stream, nodes, opts);
}

// ---------------------------------------------------------------------------------------------
// Spatial index

const EARTH_RADIUS_KM = 6371.0088;
const RAD = Math.PI / 180;

/** Straight-line (chord) distance on the unit sphere for a great-circle distance in km. */
function chordForKm(km: number): number {
  if (km >= Math.PI * EARTH_RADIUS_KM) return 2;
  return 2 * Math.sin(km / (2 * EARTH_RADIUS_KM));
}

function kmForChord(chord: number): number {
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, chord / 2));
}

/**
 * k-d tree over the nodes' unit vectors (chord distance orders exactly like great-circle
 * distance), laid out implicitly: the subtree over `order[lo..hi)` has its root at the middle.
 * Each subtree keeps the largest headroom of its eligible nodes, so full or offline regions of
 * the map are skipped without visiting them. Load is tracked inside the index: `assign` and
 * `release` keep it current between telemetry updates.
 */
export class PlacementIndex {
  private readonly nodes: NodeView[];
  private readonly byId = new Map<string, number>();
  private readonly xyz: Float64Array;
  private readonly order: Int32Array;
  private readonly pos: Int32Array;
  private readonly axis: Uint8Array;
  private readonly maxHead: Float64Array;
  private readonly used: Float64Array;
  // Scratch buffers for the tie candidates of one query.
  private candIdx = new Int32Array(64);
  private candChord = new Float64Array(64);
  private candN = 0;
  private q = [0, 0, 0];
  private bestChord = 2;
  private tieChordBound = 2;
  private tieKm = DEFAULT_TIE_KM;
  private cost = 0;
  private exclude: ReadonlySet<string> | null | undefined = null;

  constructor(nodes: readonly NodeView[]) {
    const n = nodes.length;
    this.nodes = nodes.map((x) => ({ ...x }));
    this.xyz = new Float64Array(n * 3);
    this.order = new Int32Array(n);
    this.pos = new Int32Array(n);
    this.axis = new Uint8Array(n);
    this.maxHead = new Float64Array(n);
    this.used = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const node = this.nodes[i] as NodeView;
      if (this.byId.has(node.id)) throw new Error(`duplicate node id ${node.id}`);
      this.byId.set(node.id, i);
      const la = node.lat * RAD;
      const lo = node.lon * RAD;
      this.xyz[i * 3] = Math.cos(la) * Math.cos(lo);
      this.xyz[i * 3 + 1] = Math.cos(la) * Math.sin(lo);
      this.xyz[i * 3 + 2] = Math.sin(la);
      this.order[i] = i;
      this.used[i] = node.used;
    }
    this.build(0, n);
    for (let p = 0; p < n; p++) this.pos[this.order[p] as number] = p;
  }

  get size(): number {
    return this.nodes.length;
  }

  /** Current load of a node as tracked by the index. */
  usedOf(nodeId: string): number | undefined {
    const i = this.byId.get(nodeId);
    return i === undefined ? undefined : this.used[i];
  }

  /** Adds `cost` to a node's load (after placing a stream on it). */
  assign(nodeId: string, cost: number): void {
    this.setUsed(nodeId, (this.usedOf(nodeId) ?? 0) + cost);
  }

  release(nodeId: string, cost: number): void {
    this.setUsed(nodeId, Math.max(0, (this.usedOf(nodeId) ?? 0) - cost));
  }

  /** Refreshes load and flags of a known node (telemetry, cordon, state). Position changes need a new index. */
  update(node: Pick<NodeView, "id"> & Partial<NodeView>): void {
    const i = this.byId.get(node.id);
    if (i === undefined) throw new Error(`unknown node ${node.id}`);
    const cur = this.nodes[i] as NodeView;
    for (const k of ["online", "cordoned", "draining", "capacity", "region", "relayUrl"] as const) {
      if (node[k] !== undefined) (cur as unknown as Record<string, unknown>)[k] = node[k];
    }
    if (node.used !== undefined) this.used[i] = node.used;
    this.refreshPath(this.pos[i] as number);
  }

  /** Snapshot of the nodes with the index's current load. */
  snapshot(): NodeView[] {
    return this.nodes.map((n, i) => ({ ...n, used: this.used[i] as number }));
  }

  place(s: StreamDemand, o: PlaceOptions = {}): Placement {
    if (this.nodes.length === 0) return { error: "no_capacity" };
    if (!isValidLatLon(s.location)) {
      // Without a location there is nothing to index on: scan (regions are small in practice).
      return placeLinear(s, this.snapshot(), o);
    }
    const la = s.location.lat * RAD;
    const lo = s.location.lon * RAD;
    this.q[0] = Math.cos(la) * Math.cos(lo);
    this.q[1] = Math.cos(la) * Math.sin(lo);
    this.q[2] = Math.sin(la);
    this.cost = s.cost;
    this.exclude = o.exclude;
    this.tieKm = o.tieKm ?? DEFAULT_TIE_KM;
    this.bestChord = 3; // larger than any chord on the unit sphere
    this.tieChordBound = 3;
    this.candN = 0;
    this.search(0, this.nodes.length);
    if (this.bestChord > 2) return { error: "no_capacity" };
    const limit = chordForKm(kmForChord(this.bestChord) + this.tieKm);
    let best = -1;
    for (let c = 0; c < this.candN; c++) {
      if ((this.candChord[c] as number) > limit) continue;
      const i = this.candIdx[c] as number;
      if (best < 0) {
        best = i;
        continue;
      }
      const a = this.nodes[i] as NodeView;
      const b = this.nodes[best] as NodeView;
      if (lessLoaded(a.capacity, this.used[i] as number, a.id, b.capacity, this.used[best] as number, b.id))
        best = i;
    }
    return { nodeId: (this.nodes[best] as NodeView).id };
  }

  private headroomAt(i: number): number {
    const n = this.nodes[i] as NodeView;
    return isEligible(n) ? n.capacity - (this.used[i] as number) : Number.NEGATIVE_INFINITY;
  }

  private build(lo: number, hi: number): number {
    if (lo >= hi) return Number.NEGATIVE_INFINITY;
    // Split on the axis with the largest spread.
    const mn = [Infinity, Infinity, Infinity];
    const mx = [-Infinity, -Infinity, -Infinity];
    for (let p = lo; p < hi; p++) {
      const i = this.order[p] as number;
      for (let a = 0; a < 3; a++) {
        const v = this.xyz[i * 3 + a] as number;
        if (v < (mn[a] as number)) mn[a] = v;
        if (v > (mx[a] as number)) mx[a] = v;
      }
    }
    let ax = 0;
    for (let a = 1; a < 3; a++)
      if ((mx[a] as number) - (mn[a] as number) > (mx[ax] as number) - (mn[ax] as number)) ax = a;
    const sub = Array.from(this.order.subarray(lo, hi)).sort(
      (i, j) => (this.xyz[i * 3 + ax] as number) - (this.xyz[j * 3 + ax] as number),
    );
    this.order.set(sub, lo);
    const mid = (lo + hi) >> 1;
    this.axis[mid] = ax;
    const m = Math.max(
      this.headroomAt(this.order[mid] as number),
      this.build(lo, mid),
      this.build(mid + 1, hi),
    );
    this.maxHead[mid] = m;
    return m;
  }

  private setUsed(nodeId: string, used: number): void {
    const i = this.byId.get(nodeId);
    if (i === undefined) throw new Error(`unknown node ${nodeId}`);
    this.used[i] = used;
    this.refreshPath(this.pos[i] as number);
  }

  /** Recomputes the subtree maxima on the path from the root to position p. */
  private refreshPath(p: number): void {
    const los: number[] = [];
    const his: number[] = [];
    let lo = 0;
    let hi = this.nodes.length;
    while (lo < hi) {
      los.push(lo);
      his.push(hi);
      const mid = (lo + hi) >> 1;
      if (p === mid) break;
      if (p < mid) hi = mid;
      else lo = mid + 1;
    }
    for (let k = los.length - 1; k >= 0; k--) {
      const l = los[k] as number;
      const h = his[k] as number;
      const mid = (l + h) >> 1;
      let m = this.headroomAt(this.order[mid] as number);
      if (l < mid) m = Math.max(m, this.maxHead[(l + mid) >> 1] as number);
      if (mid + 1 < h) m = Math.max(m, this.maxHead[(mid + 1 + h) >> 1] as number);
      this.maxHead[mid] = m;
    }
  }

  private search(lo: number, hi: number): void {
    if (lo >= hi) return;
    const mid = (lo + hi) >> 1;
    if ((this.maxHead[mid] as number) < this.cost) return;
    const i = this.order[mid] as number;
    const b = i * 3;
    const dx = (this.q[0] as number) - (this.xyz[b] as number);
    const dy = (this.q[1] as number) - (this.xyz[b + 1] as number);
    const dz = (this.q[2] as number) - (this.xyz[b + 2] as number);
    const chord = Math.sqrt(dx * dx + dy * dy + dz * dz);
    if (chord <= this.tieChordBound && this.headroomAt(i) >= this.cost) {
      const node = this.nodes[i] as NodeView;
      if (!this.exclude?.has(node.id)) {
        if (chord < this.bestChord) {
          this.bestChord = chord;
          this.tieChordBound = chordForKm(kmForChord(chord) + this.tieKm);
        }
        this.pushCandidate(i, chord);
      }
    }
    const ax = this.axis[mid] as number;
    const diff = (this.q[ax] as number) - (this.xyz[b + ax] as number);
    if (diff < 0) {
      this.search(lo, mid);
      if (-diff <= this.tieChordBound) this.search(mid + 1, hi);
    } else {
      this.search(mid + 1, hi);
      if (diff <= this.tieChordBound) this.search(lo, mid);
    }
  }

  private pushCandidate(i: number, chord: number): void {
    if (this.candN === this.candIdx.length) {
      // Drop candidates that fell out of the tie window before growing.
      let w = 0;
      for (let c = 0; c < this.candN; c++) {
        if ((this.candChord[c] as number) <= this.tieChordBound) {
          this.candIdx[w] = this.candIdx[c] as number;
          this.candChord[w] = this.candChord[c] as number;
          w++;
        }
      }
      this.candN = w;
      if (w === this.candIdx.length) {
        const ni = new Int32Array(w * 2);
        ni.set(this.candIdx);
        const nc = new Float64Array(w * 2);
        nc.set(this.candChord);
        this.candIdx = ni;
        this.candChord = nc;
      }
    }
    this.candIdx[this.candN] = i;
    this.candChord[this.candN] = chord;
    this.candN++;
  }
}
