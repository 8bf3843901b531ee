/** Pure admission rules: ladder trimming (ADR 0014) and what a node carries (ADR 0003). */
import { describe, expect, test } from "bun:test";
import { BUILTIN_PROFILES, type ProfileSpec } from "@dionysia/shared";
import { minimumCost, servedCost, servedProfile, trimLadder } from "../src/scheduler/ladder.ts";
import { type CarriedStream, carriedLoads, holdsCapacity } from "../src/scheduler/load.ts";
import { planClaim } from "../src/scheduler/plans.ts";
import { nodeView } from "./helpers/nodes.ts";

const LADDER = BUILTIN_PROFILES["builtin-720p"] as ProfileSpec; // 720p 27.648 + 480p 12.298 + 360p 6.912 + audio 0.25
const P360 = BUILTIN_PROFILES["builtin-360p"] as ProfileSpec;

describe("trimLadder", () => {
  test("the whole ladder when it fits", () => {
    expect(trimLadder(LADDER, 100)).toEqual({ served: null, cost: 47.108 });
    expect(trimLadder(LADDER, 47.108)).toEqual({ served: null, cost: 47.108 });
  });

  test("drops the most expensive rungs first, keeps ladder order", () => {
    // The node of the issue: calibrated to 19.8 units.
    expect(trimLadder(LADDER, 19.8)).toEqual({ served: ["480p", "360p"], cost: 19.46 });
    expect(trimLadder(LADDER, 19.4)).toEqual({ served: ["360p"], cost: 7.162 });
    expect(trimLadder(LADDER, 7.162)).toEqual({ served: ["360p"], cost: 7.162 });
  });

  test("never below one rung: refused when not even the cheapest fits", () => {
    expect(trimLadder(LADDER, 7.1)).toEqual({ error: "no_capacity" });
    expect(trimLadder(P360, 5)).toEqual({ error: "no_capacity" });
    expect(trimLadder(LADDER, -3)).toEqual({ error: "no_capacity" });
  });

  test('"degrade": false refuses instead of trimming', () => {
    const strict = { ...LADDER, degrade: false };
    expect(trimLadder(strict, 40)).toEqual({ error: "no_capacity" });
    expect(trimLadder(strict, 50)).toEqual({ served: null, cost: 47.108 });
  });

  test("the cheapest rung survives wherever it sits in the ladder; ties drop the later rung", () => {
    const odd: ProfileSpec = {
      ...LADDER,
      renditions: [
        { name: "low", codec: "h264", width: 640, height: 360, fps: 30 },
        { name: "high", codec: "h264", width: 1920, height: 1080, fps: 30 },
        { name: "mid-a", codec: "h264", width: 1280, height: 720, fps: 30 },
        { name: "mid-b", codec: "h264", width: 1280, height: 720, fps: 30 },
      ],
    };
    expect(trimLadder(odd, 40)).toEqual({ served: ["low", "mid-a"], cost: 34.81 });
    expect(trimLadder(odd, 10)).toEqual({ served: ["low"], cost: 7.162 });
  });

  test("servedProfile keeps only the served rungs; minimumCost is the cheapest admission", () => {
    expect(servedProfile(LADDER, ["360p"]).renditions.map((r) => r.name)).toEqual(["360p"]);
    expect(servedProfile(LADDER, null)).toBe(LADDER);
    expect(servedCost(LADDER, ["480p", "360p"])).toBe(19.46);
    expect(minimumCost(LADDER)).toBe(7.162);
    expect(minimumCost({ ...LADDER, degrade: false })).toBe(47.108);
    expect(minimumCost(BUILTIN_PROFILES["builtin-audio"] as ProfileSpec)).toBe(0.25);
  });
});

describe("planClaim degrades instead of refusing", () => {
  test("no neighbour can take the overflow: the publishing node serves what fits", () => {
    const small = nodeView("small", 48.85, 2.35, { capacity: 19.8 });
    const fullNeighbour = nodeView("london", 51.5, -0.12, { capacity: 20 });
    expect(planClaim({ id: "s", profile: LADDER }, "small", [small, fullNeighbour])).toEqual({
      kind: "origin",
      nodeId: "small",
      served: ["480p", "360p"],
      cost: 19.46,
    });
    // A neighbour with room for the whole ladder transcodes it whole instead.
    const roomy = nodeView("london", 51.5, -0.12, { capacity: 100 });
    expect(planClaim({ id: "s", profile: LADDER }, "small", [small, roomy])).toMatchObject({
      kind: "overflow",
      transcodeNodeId: "london",
      served: null,
    });
    // No relay announced: no overflow possible, trimming still admits.
    expect(planClaim({ id: "s", profile: LADDER }, "small", [{ ...small, relayUrl: null }, roomy])).toEqual({
      kind: "origin",
      nodeId: "small",
      served: ["480p", "360p"],
      cost: 19.46,
    });
  });

  test("refused when not even the cheapest rung fits, or the profile forbids trimming", () => {
    const tiny = nodeView("tiny", 48.85, 2.35, { capacity: 5 });
    expect(planClaim({ id: "s", profile: LADDER }, "tiny", [tiny])).toEqual({ error: "no_capacity" });
    const small = nodeView("small", 48.85, 2.35, { capacity: 19.8 });
    expect(planClaim({ id: "s", profile: { ...LADDER, degrade: false } }, "small", [small])).toEqual({
      error: "no_capacity",
    });
  });
});

describe("what a node carries", () => {
  const NOW = 1_000_000;
  const stream = (id: string, o: Partial<CarriedStream> = {}): CarriedStream => ({
    id,
    nodeId: "n1",
    transcodeNodeId: null,
    status: "idle",
    pull: false,
    reservedUntil: null,
    profile: LADDER,
    admitted: null,
    ...o,
  });

  test("live and reserved streams hold capacity; idle push streams hold nothing", () => {
    expect(holdsCapacity(stream("a", { status: "live" }), NOW)).toBe(true);
    expect(holdsCapacity(stream("a"), NOW)).toBe(false);
    expect(holdsCapacity(stream("a", { status: "starting", reservedUntil: NOW + 1 }), NOW)).toBe(true);
    // A publish that never went live stops holding when its reservation runs out.
    expect(holdsCapacity(stream("a", { status: "starting", reservedUntil: NOW }), NOW)).toBe(false);
    expect(holdsCapacity(stream("a", { reservedUntil: NOW + 5000 }), NOW)).toBe(true);
    // Pull streams are kept running by control: they always hold.
    expect(holdsCapacity(stream("a", { pull: true }), NOW)).toBe(true);
  });

  test("loads per node: served ladder cost, overflow split, exclusions", () => {
    const loads = carriedLoads(
      [
        stream("live", { status: "live" }),
        stream("idle"),
        stream("trimmed", { status: "live", admitted: ["360p"] }),
        stream("pair", { status: "live", nodeId: "n2", transcodeNodeId: "n3" }),
        stream("unplaced", { nodeId: null, status: "live" }),
      ],
      NOW,
    );
    expect(loads.get("n1")).toBeCloseTo(47.108 + 7.162, 6);
    expect(loads.get("n2")).toBe(0.5);
    expect(loads.get("n3")).toBe(47.108);
    expect(carriedLoads([stream("live", { status: "live" })], NOW, "live").size).toBe(0);
  });
});
