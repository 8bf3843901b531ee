/**
 * Placement benchmark (pure function, no I/O): places N streams one after another across M
 * simulated nodes, each decision followed by `assign` so nodes fill up as in real life, and
 * reports the median / p99 microseconds per decision. Compares the k-d index with the linear scan.
 *
 *   bun bench/placement.ts [--nodes 10000] [--streams 100000] [--linear 2000] [--seed 1]
 */
import { parseArgs } from "node:util";
import { type NodeView, PlacementIndex, placeStream } from "../control/src/scheduler/placement.ts";
import { BUILTIN_PROFILES, profileCost } from "../shared/src/index.ts";

const { values: args } = parseArgs({
  options: {
    nodes: { type: "string", default: "10000" },
    streams: { type: "string", default: "100000" },
    linear: { type: "string", default: "2000", short: "l" },
    seed: { type: "string", default: "1" },
  },
});
const NODES = Number(args.nodes);
const STREAMS = Number(args.streams);
const LINEAR = Number(args.linear);

let seed = Number(args.seed) >>> 0;
function rnd(): number {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
}

// Nodes cluster around "metros" (like real PoPs); streamers cluster around the same metros.
const METROS = Array.from({ length: 200 }, () => ({
  lat: Math.asin(rnd() * 1.8 - 0.9) / (Math.PI / 180),
  lon: rnd() * 360 - 180,
}));
function near(p: { lat: number; lon: number }, deg: number) {
  return {
    lat: Math.max(-89.9, Math.min(89.9, p.lat + (rnd() - 0.5) * deg)),
    lon: ((p.lon + (rnd() - 0.5) * deg + 540) % 360) - 180,
  };
}

const costs = ["builtin-passthrough", "builtin-360p", "builtin-720p", "builtin-1080p"]
  .filter((id) => BUILTIN_PROFILES[id])
  .map((id) => profileCost(BUILTIN_PROFILES[id] as NonNullable<(typeof BUILTIN_PROFILES)[string]>));
const weights = [0.2, 0.3, 0.4, 0.1];
function streamCost(): number {
  let r = rnd();
  for (let i = 0; i < costs.length; i++) {
    r -= weights[i] ?? 0;
    if (r <= 0) return costs[i] as number;
  }
  return costs[costs.length - 1] as number;
}

const nodes: NodeView[] = Array.from({ length: NODES }, (_, i) => {
  const p = near(METROS[Math.floor(rnd() * METROS.length)] as { lat: number; lon: number }, 6);
  return {
    id: `node-${i}`,
    lat: p.lat,
    lon: p.lon,
    region: `r${i % 20}`,
    online: rnd() > 0.02,
    cordoned: rnd() < 0.01,
    draining: false,
    capacity: 250 + Math.floor(rnd() * 500),
    used: 0,
  };
});
const streams = Array.from({ length: STREAMS }, () => ({
  cost: streamCost(),
  location: near(METROS[Math.floor(rnd() * METROS.length)] as { lat: number; lon: number }, 10),
}));

function stats(samples: Float64Array) {
  const s = Array.from(samples).sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
  return { median: q(0.5), p90: q(0.9), p99: q(0.99), max: s[s.length - 1] as number };
}
const fmt = (x: number) => x.toFixed(2);

const t0 = performance.now();
const index = new PlacementIndex(nodes);
const buildMs = performance.now() - t0;

// Warm-up on a throwaway index so JIT tiers settle.
const warm = new PlacementIndex(nodes);
for (let i = 0; i < 5000; i++) warm.place(streams[i % streams.length] as (typeof streams)[number]);

const times = new Float64Array(STREAMS);
let placed = 0;
let full = 0;
const total0 = performance.now();
for (let i = 0; i < STREAMS; i++) {
  const s = streams[i] as (typeof streams)[number];
  const a = performance.now();
  const r = index.place(s);
  if ("nodeId" in r) index.assign(r.nodeId, s.cost);
  times[i] = (performance.now() - a) * 1000;
  if ("nodeId" in r) placed++;
  else full++;
}
const totalMs = performance.now() - total0;
const idx = stats(times);

// Linear scan on a copy of the filled-up network, for comparison.
const snap = index.snapshot();
const lin = new Float64Array(LINEAR);
for (let i = 0; i < LINEAR; i++) {
  const s = streams[i] as (typeof streams)[number];
  const a = performance.now();
  placeStream(s, snap);
  lin[i] = (performance.now() - a) * 1000;
}
const ls = stats(lin);

const demand = streams.reduce((x, s) => x + s.cost, 0);
const capacity = nodes.filter((n) => n.online && !n.cordoned).reduce((x, n) => x + n.capacity, 0);
console.log(
  `placement: ${STREAMS} streams across ${NODES} nodes (${Bun.version ? `bun ${Bun.version}` : ""})`,
);
console.log(
  `  demand ${Math.round(demand)} units, eligible capacity ${Math.round(capacity)} units; placed ${placed}, no_capacity ${full}`,
);
console.log(`  index build: ${buildMs.toFixed(1)} ms; total placement ${totalMs.toFixed(0)} ms`);
console.log(
  `  k-d index  µs/decision: median ${fmt(idx.median)}  p90 ${fmt(idx.p90)}  p99 ${fmt(idx.p99)}  max ${fmt(idx.max)}`,
);
console.log(`  linear scan µs/decision (${LINEAR} samples): median ${fmt(ls.median)}  p99 ${fmt(ls.p99)}`);
console.log(`  target: median <= 20 µs: ${idx.median <= 20 ? "PASS" : "FAIL"}`);
