/** The one routes rule (scheduler/routes.ts), used by the MQTT publisher and GET /v1/routes. */
import { describe, expect, test } from "bun:test";
import { type RoutedStream, type RouteNode, routeFor } from "../src/scheduler/routes.ts";

const node = (id: string, online = true, o: Partial<RouteNode> = {}): RouteNode => ({
  id,
  publicUrl: `http://${id}:8090`,
  region: "eu",
  lat: 1,
  lon: 2,
  online,
  ...o,
});
const nodes = new Map([
  ["a", node("a")],
  ["b", node("b", true, { region: "us", lat: 3, lon: 4 })],
  ["dead", node("dead", false)],
]);
const stream = (o: Partial<RoutedStream> = {}): RoutedStream => ({
  id: "s1",
  playbackPolicy: "public",
  status: "live",
  nodeId: "a",
  transcodeNodeId: null,
  liveNodeId: "a",
  reservedUntil: null,
  ...o,
});

describe("routeFor", () => {
  test("live: the serving nodes that are online; an ingest-only node has no segments", () => {
    expect(routeFor(stream(), nodes, 123)).toEqual({
      id: "s1",
      policy: "public",
      ts: 123,
      origins: [{ nodeId: "a", url: "http://a:8090", region: "eu", lat: 1, lon: 2, role: "origin" }],
    });
    const overflow = routeFor(
      stream({ transcodeNodeId: "b", liveNodeId: "b", playbackPolicy: "signed" }),
      nodes,
    );
    expect(overflow?.policy).toBe("signed");
    expect(overflow?.origins.map((o) => [o.nodeId, o.role])).toEqual([["b", "transcode"]]);
  });

  test("starting, restarting or failing over: a route with no origins (routers answer 503, not 404)", () => {
    expect(routeFor(stream({ status: "starting", liveNodeId: null }), nodes)?.origins).toEqual([]);
    expect(routeFor(stream({ status: "error" }), nodes)?.origins).toEqual([]);
    // Live on a node that just died, before the scheduler moved it.
    expect(routeFor(stream({ nodeId: "dead", liveNodeId: "dead" }), nodes)?.origins).toEqual([]);
    // A push stream unassigned after its node died, waiting for the streamer to reconnect.
    expect(routeFor(stream({ status: "idle", nodeId: null, liveNodeId: "dead" }), nodes)?.origins).toEqual(
      [],
    );
    // A pull stream moved to a node that is not live yet.
    expect(routeFor(stream({ status: "starting", nodeId: "b", liveNodeId: "dead" }), nodes)?.origins).toEqual(
      [],
    );
  });

  test("not routed: never started, or stopped on a healthy node once its reconnect grace ran out", () => {
    expect(routeFor(stream({ status: "idle", reservedUntil: 2000 }), nodes, 1000)?.origins).toEqual([]);
    expect(routeFor(stream({ status: "idle", reservedUntil: 2000 }), nodes, 2000)).toBeNull();
    expect(routeFor(stream({ status: "idle", nodeId: null, liveNodeId: null }), nodes)).toBeNull();
    expect(routeFor(stream({ status: "idle", nodeId: "a", liveNodeId: null }), nodes)).toBeNull();
    expect(routeFor(stream({ status: "idle", nodeId: "a", liveNodeId: "a" }), nodes)).toBeNull();
  });
});
