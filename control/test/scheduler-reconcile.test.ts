/** The network layer's pure reconciliation: failover, drain, pull placement and desired entries. */
import { describe, expect, test } from "bun:test";
import { BUILTIN_PROFILES, type ProfileSpec } from "@dionysia/shared";
import {
  desiredFor,
  type NodeSnapshot,
  placementsOf,
  planReconcile,
  type StreamSnapshot,
} from "../src/scheduler/reconcile.ts";
import { nodeView, streamSnapshot } from "./helpers/nodes.ts";

const P360 = BUILTIN_PROFILES["builtin-360p"] as ProfileSpec; // ≈ 7.2 units

function node(id: string, lat: number, lon: number, o: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return nodeView(id, lat, lon, { relayUrl: `rtmp://${id}.test:1935/relay`, ...o });
}

function stream(id: string, o: Partial<StreamSnapshot> = {}): StreamSnapshot {
  return streamSnapshot(id, { profile: P360, ...o });
}

const PARIS = node("paris", 48.85, 2.35);
const LONDON = node("london", 51.5, -0.12);
const NYC = node("nyc", 40.7, -74);

describe("planReconcile", () => {
  test("nothing to do when every node is healthy and every pull stream placed", () => {
    const s = [stream("a", { source: "rtsp://cam/a", nodeId: "paris" }), stream("b", { nodeId: "london" })];
    expect(planReconcile(s, [PARIS, LONDON, NYC]).size).toBe(0);
  });

  test("offline node: its pull stream moves to the next nearest, its push stream is unassigned", () => {
    const s = [
      stream("pull", { source: "rtsp://cam/a", nodeId: "paris", location: { lat: 48.9, lon: 2.3 } }),
      stream("push", { nodeId: "paris" }),
    ];
    const changes = planReconcile(s, [{ ...PARIS, online: false }, LONDON, NYC]);
    expect(changes.get("pull")).toEqual({ nodeId: "london", transcodeNodeId: null });
    expect(changes.get("push")).toEqual({ nodeId: null, transcodeNodeId: null });
  });

  test("draining node: pull streams move, push streams stay with their streamer", () => {
    const s = [
      stream("pull", { source: "srt://cam:9000", nodeId: "paris" }),
      stream("push", { nodeId: "paris" }),
    ];
    const changes = planReconcile(s, [{ ...PARIS, draining: true }, LONDON, NYC]);
    expect(changes.get("pull")?.nodeId).toBe("london");
    expect(changes.has("push")).toBe(false);
  });

  test("unassigned pull streams are placed nearest first, filling headroom as they go", () => {
    const small = node("small", 48.86, 2.36, { capacity: 10 }); // room for one 360p stream
    const s = [
      stream("p1", { source: "rtsp://cam/1", location: { lat: 48.86, lon: 2.36 } }),
      stream("p2", { source: "rtsp://cam/2", location: { lat: 48.86, lon: 2.36 } }),
      stream("push", {}),
    ];
    const changes = planReconcile(s, [small, PARIS, NYC]);
    const targets = [changes.get("p1")?.nodeId, changes.get("p2")?.nodeId].sort();
    expect(targets).toEqual(["paris", "small"]);
    expect(changes.has("push")).toBe(false); // push streams wait for their streamer
  });

  test("a lost transcode peer is replaced near its ingest node; a lost ingest node unassigns both", () => {
    const overflow = stream("ov", { nodeId: "paris", transcodeNodeId: "london" });
    const lostPeer = planReconcile([overflow], [PARIS, { ...LONDON, online: false }, NYC]);
    expect(lostPeer.get("ov")).toEqual({ nodeId: "paris", transcodeNodeId: "nyc" });
    const lostIngest = planReconcile([overflow], [{ ...PARIS, online: false }, LONDON, NYC]);
    expect(lostIngest.get("ov")).toEqual({ nodeId: null, transcodeNodeId: null });
  });

  test("no capacity anywhere: the pull stream is unassigned rather than overloading a node", () => {
    const full = (n: NodeSnapshot) => ({ ...n, used: n.capacity });
    const s = [stream("pull", { source: "rtsp://cam/a", nodeId: "paris" })];
    const changes = planReconcile(s, [{ ...PARIS, online: false }, full(LONDON), full(NYC)]);
    expect(changes.get("pull")).toEqual({ nodeId: null, transcodeNodeId: null });
  });
});

describe("desired entries", () => {
  test("roles follow the placement; the transcode peer pulls the ingest node's relay", () => {
    const s = [
      stream("solo", { nodeId: "paris", source: "rtsp://cam/a" }),
      stream("ov", { nodeId: "paris", transcodeNodeId: "london" }),
    ];
    expect(placementsOf(s[1] as StreamSnapshot)).toEqual([
      { nodeId: "paris", role: "ingest" },
      { nodeId: "london", role: "transcode" },
    ]);
    const relays = new Map([PARIS, LONDON].map((n) => [n.id, { relayUrl: n.relayUrl }]));
    const paris = desiredFor("paris", s, relays);
    expect(paris.map((d) => [d.id, d.role])).toEqual([
      ["ov", "ingest"],
      ["solo", "origin"],
    ]);
    expect(paris.find((d) => d.id === "solo")?.source).toBe("rtsp://cam/a");
    const london = desiredFor("london", s, relays);
    expect(london).toHaveLength(1);
    expect(london[0]).toMatchObject({
      id: "ov",
      role: "transcode",
      pullFrom: "rtmp://paris.test:1935/relay/ov",
    });
    // An ingest node that announced no relay cannot be pulled from: no transcode entry.
    expect(desiredFor("london", s, new Map([["paris", { relayUrl: null }]]))).toEqual([]);
  });

  test("a trimmed stream's desired profile lists only the admitted rungs", () => {
    const ladder = BUILTIN_PROFILES["builtin-720p"] as ProfileSpec;
    const s = [stream("t", { nodeId: "paris", profile: ladder, admitted: ["480p", "360p"] })];
    const [entry] = desiredFor("paris", s, new Map());
    expect(entry?.profile.renditions.map((r) => r.name)).toEqual(["480p", "360p"]);
    expect(entry?.profile.audio).toEqual(ladder.audio);
  });

  test("the node taking the push gets the stream's SRT port; a transcode peer does not", () => {
    const s = [stream("p", { nodeId: "paris", transcodeNodeId: "london", srtPort: 10042 })];
    const relays = new Map([["paris", { relayUrl: "rtmp://paris.test:1935/relay" }]]);
    expect(desiredFor("paris", s, relays)[0]?.srtPort).toBe(10042);
    expect(desiredFor("london", s, relays)[0]?.srtPort).toBeUndefined();
  });
});
