import { describe, expect, test } from "bun:test";
import { BUILTIN_PROFILES, haversineKm, type ProfileSpec } from "@dionysia/shared";
import { type NodeView, PlacementIndex, placeStream } from "../src/scheduler/placement.ts";
import { type AssignedStream, planClaim, planFailover, planOverflow } from "../src/scheduler/plans.ts";
import { nodeView } from "./helpers/nodes.ts";

const node = nodeView;

const PARIS = { lat: 48.8566, lon: 2.3522 };
const paris = node("paris", 48.85, 2.35);
const london = node("london", 51.5, -0.12);
const berlin = node("berlin", 52.52, 13.4);
const nyc = node("nyc", 40.71, -74.0, { region: "us" });
const all = [paris, london, berlin, nyc];

// A tiny deterministic PRNG so failures reproduce.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("placeStream", () => {
  test("picks the nearest eligible node", () => {
    expect(placeStream({ cost: 10, location: PARIS }, all)).toEqual({ nodeId: "paris" });
    expect(placeStream({ cost: 10, location: { lat: 40, lon: -75 } }, all)).toEqual({ nodeId: "nyc" });
  });

  test("skips a full node, then the next nearest", () => {
    const full = { ...paris, used: 95 };
    expect(placeStream({ cost: 10, location: PARIS }, [full, london, berlin, nyc])).toEqual({
      nodeId: "london",
    });
    // Exactly enough headroom still fits.
    expect(placeStream({ cost: 5, location: PARIS }, [full, london])).toEqual({ nodeId: "paris" });
  });

  test("skips offline, cordoned, draining and excluded nodes", () => {
    for (const flag of [{ online: false }, { cordoned: true }, { draining: true }]) {
      expect(placeStream({ cost: 1, location: PARIS }, [{ ...paris, ...flag }, london])).toEqual({
        nodeId: "london",
      });
    }
    expect(placeStream({ cost: 1, location: PARIS }, all, { exclude: new Set(["paris"]) })).toEqual({
      nodeId: "london",
    });
  });

  test("no_capacity when nothing fits", () => {
    expect(placeStream({ cost: 101, location: PARIS }, all)).toEqual({ error: "no_capacity" });
    expect(placeStream({ cost: 1, location: PARIS }, [])).toEqual({ error: "no_capacity" });
    expect(placeStream({ cost: 1 }, [{ ...paris, online: false }])).toEqual({ error: "no_capacity" });
  });

  test("equal distances within the tie window go to the least loaded", () => {
    const a = node("a", 10, 10, { used: 50 });
    const b = node("b", 10, 10.005, { used: 10 }); // ~0.5 km away from a
    const loc = { lat: 10, lon: 9.99 }; // a is nearer by ~0.5 km
    expect(placeStream({ cost: 1, location: loc }, [a, b])).toEqual({ nodeId: "b" });
    expect(placeStream({ cost: 1, location: loc }, [a, b], { tieKm: 0 })).toEqual({ nodeId: "a" });
    // Load is compared as a fraction of capacity.
    const big = node("big", 10, 10, { capacity: 1000, used: 100 });
    const small = node("small", 10, 10, { capacity: 100, used: 20 });
    expect(placeStream({ cost: 1, location: loc }, [small, big])).toEqual({ nodeId: "big" });
  });

  test("without a location: least loaded node of the region, else least loaded anywhere", () => {
    const nodes = [
      { ...paris, used: 30 },
      { ...london, used: 20 },
      { ...nyc, used: 90 },
    ];
    expect(placeStream({ cost: 5, region: "us" }, nodes)).toEqual({ nodeId: "nyc" });
    expect(placeStream({ cost: 5, region: "eu" }, nodes)).toEqual({ nodeId: "london" });
    expect(placeStream({ cost: 20, region: "us" }, nodes)).toEqual({ nodeId: "london" });
    expect(placeStream({ cost: 5 }, nodes)).toEqual({ nodeId: "london" });
    expect(placeStream({ cost: 5, region: "nowhere" }, nodes)).toEqual({ nodeId: "london" });
  });

  test("an invalid location falls back to region placement", () => {
    expect(placeStream({ cost: 1, location: { lat: 200, lon: 0 }, region: "us" }, all)).toEqual({
      nodeId: "nyc",
    });
  });
});

describe("PlacementIndex", () => {
  test("agrees with the linear scan on random data, while nodes fill up", () => {
    const r = rng(42);
    const nodes: NodeView[] = [];
    for (let i = 0; i < 500; i++) {
      nodes.push(
        node(`n${i}`, r() * 180 - 90, r() * 360 - 180, {
          capacity: 2 + Math.floor(r() * 10),
          used: 0,
          online: r() > 0.05,
          cordoned: r() < 0.03,
          draining: r() < 0.02,
        }),
      );
    }
    const idx = new PlacementIndex(nodes);
    const linear = nodes.map((n) => ({ ...n }));
    const byId = new Map(linear.map((n) => [n.id, n]));
    let placed = 0;
    for (let k = 0; k < 3000; k++) {
      const s = { cost: 1 + Math.floor(r() * 8), location: { lat: r() * 180 - 90, lon: r() * 360 - 180 } };
      const tieKm = k % 3 === 0 ? 500 : 1;
      const a = placeStream(s, linear, { tieKm });
      const b = idx.place(s, { tieKm });
      expect(b).toEqual(a);
      if ("nodeId" in a) {
        placed++;
        (byId.get(a.nodeId) as NodeView).used += s.cost;
        idx.assign(a.nodeId, s.cost);
      }
    }
    // The run must have filled the network so that "full" is exercised.
    expect(placed).toBeGreaterThan(500);
    expect(placed).toBeLessThan(3000);
  });

  test("update() applies cordon, state and load; release() frees capacity", () => {
    const idx = new PlacementIndex(all);
    idx.update({ id: "paris", cordoned: true });
    expect(idx.place({ cost: 1, location: PARIS })).toEqual({ nodeId: "london" });
    idx.update({ id: "paris", cordoned: false, used: 100 });
    expect(idx.place({ cost: 1, location: PARIS })).toEqual({ nodeId: "london" });
    idx.release("paris", 50);
    expect(idx.usedOf("paris")).toBe(50);
    expect(placeStream({ cost: 1, location: PARIS }, idx)).toEqual({ nodeId: "paris" });
    expect(() => idx.update({ id: "nope" })).toThrow();
  });

  test("handles the antimeridian and poles", () => {
    const east = node("east", 0, 179.9);
    const west = node("west", 0, -179.9);
    const mid = node("mid", 0, 100);
    const idx = new PlacementIndex([east, west, mid]);
    expect(idx.place({ cost: 1, location: { lat: 0, lon: -179.95 } })).toEqual({ nodeId: "west" });
    expect(idx.place({ cost: 1, location: { lat: 0, lon: 179.99 } })).toEqual({ nodeId: "east" });
    const pole = new PlacementIndex([node("n", 89.9, 0), node("s", -89.9, 0)]);
    expect(pole.place({ cost: 1, location: { lat: 89, lon: 170 } })).toEqual({ nodeId: "n" });
  });
});

describe("planOverflow / planClaim", () => {
  test("the nearest other node with headroom transcodes, pulling from the ingest relay", () => {
    const full = { ...paris, used: 99 };
    const plan = planOverflow({ id: "s1", cost: 20 }, "paris", [full, london, berlin, nyc]);
    expect(plan).toEqual({ ingestNodeId: "paris", transcodeNodeId: "london" });
    // Even with headroom on the ingest node itself, overflow goes elsewhere.
    expect(planOverflow({ id: "s1", cost: 20 }, "paris", all)).toMatchObject({ transcodeNodeId: "london" });
    expect(planOverflow({ id: "s1", cost: 20 }, "paris", [{ ...full, relayUrl: null }, london])).toEqual({
      error: "no_relay",
    });
    expect(planOverflow({ id: "s1", cost: 200 }, "paris", all)).toEqual({ error: "no_capacity" });
    expect(planOverflow({ id: "s1", cost: 1 }, "ghost", all)).toEqual({ error: "unknown_node" });
  });

  test("first publish claims when the publishing node has headroom", () => {
    const profile = BUILTIN_PROFILES["builtin-360p"] as ProfileSpec; // 7.162 units
    const cost = 7.162;
    expect(planClaim({ id: "s", profile }, "berlin", all)).toEqual({
      kind: "origin",
      nodeId: "berlin",
      served: null,
      cost,
    });
    expect(planClaim({ id: "s", profile }, "paris", [{ ...paris, used: 95 }, london])).toEqual({
      kind: "overflow",
      served: null,
      cost,
      ingestNodeId: "paris",
      transcodeNodeId: "london",
    });
    expect(planClaim({ id: "s", profile }, "paris", [{ ...paris, cordoned: true }, london])).toEqual({
      error: "node_unavailable",
    });
    expect(planClaim({ id: "s", profile }, "x", all)).toEqual({ error: "unknown_node" });
  });
});

describe("planFailover", () => {
  const streams: AssignedStream[] = [
    { id: "pull1", cost: 30, nodeId: "paris", role: "origin", pull: true, location: PARIS },
    { id: "pull2", cost: 60, nodeId: "paris", role: "origin", pull: true },
    { id: "push1", cost: 10, nodeId: "paris", role: "origin", pull: false },
    { id: "ing1", cost: 0.5, nodeId: "paris", role: "ingest", pull: false },
    { id: "ing1", cost: 20, nodeId: "berlin", role: "transcode", pull: false, ingestNodeId: "paris" },
    { id: "tc2", cost: 20, nodeId: "paris", role: "transcode", pull: false, ingestNodeId: "nyc" },
    { id: "other", cost: 10, nodeId: "london", role: "origin", pull: true },
  ];

  test("pull streams move to the next nearest nodes, push streams are unassigned", () => {
    const dead = { ...paris, online: false };
    const nodes = [dead, { ...london, used: 10 }, berlin, nyc];
    const actions = planFailover("paris", streams, nodes);
    const by = (id: string, from: string) => actions.find((a) => a.streamId === id && a.from === from);
    // pull2 (60) is placed first on london (nearest to the lost node, 90 free), then pull1 (30) fits exactly.
    expect(by("pull2", "paris")).toEqual({
      streamId: "pull2",
      action: "move",
      from: "paris",
      to: "london",
      role: "origin",
    });
    expect(by("pull1", "paris")).toEqual({
      streamId: "pull1",
      action: "move",
      from: "paris",
      to: "london",
      role: "origin",
    });
    expect(by("push1", "paris")).toEqual({
      streamId: "push1",
      action: "unassign",
      from: "paris",
      reason: "push",
    });
    expect(by("ing1", "paris")).toMatchObject({ action: "unassign", reason: "push" });
    expect(by("ing1", "berlin")).toMatchObject({ action: "unassign", reason: "ingest_lost" });
    // A transcode peer of a healthy ingest node is replaced near that ingest node.
    expect(by("tc2", "paris")).toEqual({
      streamId: "tc2",
      action: "move",
      from: "paris",
      to: "berlin", // london is now full (10 + 60 + 30)
      role: "transcode",
    });
    expect(actions.find((a) => a.streamId === "other")).toBeUndefined();
  });

  test("each move counts against the target's headroom", () => {
    const nodes = [{ ...paris, online: false }, { ...london, capacity: 70 }, berlin, nyc];
    const actions = planFailover("paris", streams.slice(0, 2), nodes);
    expect(actions).toEqual([
      { streamId: "pull2", action: "move", from: "paris", to: "london", role: "origin" },
      { streamId: "pull1", action: "move", from: "paris", to: "berlin", role: "origin" },
    ]);
    const none = planFailover("paris", streams.slice(0, 1), [{ ...paris, online: false }]);
    expect(none).toEqual([{ streamId: "pull1", action: "unassign", from: "paris", reason: "no_capacity" }]);
  });

  test("pull streams without a location stay near the lost node", () => {
    const lost = node("sydney", -33.87, 151.2, { online: false });
    const nodes = [lost, node("tokyo", 35.68, 139.69), node("perth", -31.95, 115.86), london];
    const actions = planFailover(
      "sydney",
      [{ id: "p", cost: 1, nodeId: "sydney", role: "origin", pull: true }],
      nodes,
    );
    expect(actions[0]).toMatchObject({ action: "move", to: "perth" });
    expect(haversineKm(lost, nodes[2] as NodeView)).toBeLessThan(haversineKm(lost, nodes[1] as NodeView));
  });
});
