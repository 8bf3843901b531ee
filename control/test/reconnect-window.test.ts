/**
 * The reconnect window on the control side (issue 15, ADR 0091): the setting on profiles and
 * streams, the resolved value in desired state, `reconnecting` holding routes and capacity, and a
 * window ended by control when the stream's node died. Real control on a libSQL file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  BUILTIN_PROFILES,
  DEFAULT_RECONNECT_WINDOW_S,
  type ProfileSpec,
  reconnectWindowSeconds,
  type StreamStatusValue,
} from "@dionysia/shared";
import { waitFor } from "@dionysia/shared/testkit";
import { eq } from "drizzle-orm";
import { streams } from "../src/db/schema.ts";
import { continueFromFor } from "../src/scheduler/continuation.ts";
import { desiredFor, type StreamSnapshot } from "../src/scheduler/reconcile.ts";
import { claimStream, recordStreamStatus } from "../src/streams/assignment.ts";
import { announce, ROUTER_KEY, startControl, type TestControl } from "./helpers/control.ts";
import { streamSnapshot } from "./helpers/nodes.ts";

let c: TestControl;
beforeAll(async () => {
  c = await startControl({ env: { SCHEDULER_LEASE_TTL_MS: "1200" } });
});
afterAll(async () => {
  await c?.stop();
});

const P360 = BUILTIN_PROFILES["builtin-360p"] as ProfileSpec;

describe("the setting", () => {
  test("the stream's own, else its profile's, else 60 s", () => {
    expect(reconnectWindowSeconds({}, P360)).toBe(DEFAULT_RECONNECT_WINDOW_S);
    expect(DEFAULT_RECONNECT_WINDOW_S).toBe(60);
    expect(reconnectWindowSeconds({ reconnectWindowSeconds: null }, { reconnectWindowSeconds: 0 })).toBe(0);
    expect(reconnectWindowSeconds({ reconnectWindowSeconds: 5 }, { reconnectWindowSeconds: 900 })).toBe(5);
  });

  test("streams and profiles take 0..1800; anything else is a 422 that changes nothing", async () => {
    const s = await c.api("POST", "/v1/streams", { body: { name: "w", reconnectWindowSeconds: 5 } });
    expect(s.status).toBe(201);
    expect(s.body.reconnectWindowSeconds).toBe(5);
    for (const bad of [-1, 1801, 2.5, "60"]) {
      const r = await c.api("PATCH", `/v1/streams/${s.body.id}`, { body: { reconnectWindowSeconds: bad } });
      expect(r.status).toBe(422);
    }
    expect((await c.api("GET", `/v1/streams/${s.body.id}`)).body.reconnectWindowSeconds).toBe(5);
    const cleared = await c.api("PATCH", `/v1/streams/${s.body.id}`, {
      body: { reconnectWindowSeconds: null },
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body.reconnectWindowSeconds).toBeNull();
    const plain = await c.api("POST", "/v1/streams", { body: { name: "plain" } });
    expect(plain.body.reconnectWindowSeconds).toBeNull();

    const profile = { ...P360, name: "long window", reconnectWindowSeconds: 1800 };
    const p = await c.api("POST", "/v1/profiles", { body: profile });
    expect(p.status).toBe(201);
    expect(p.body.reconnectWindowSeconds).toBe(1800);
    const tooLong = await c.api("POST", "/v1/profiles", {
      body: { ...profile, reconnectWindowSeconds: 1801 },
    });
    expect(tooLong.status).toBe(422);
  });

  test("desired state carries the resolved window to the node", () => {
    const base = streamSnapshot("a", {
      profile: { ...P360, reconnectWindowSeconds: 30 },
      nodeId: "n1",
      liveNodeId: "n1",
    });
    const one = (s: StreamSnapshot) => desiredFor("n1", [s], new Map())[0]?.reconnectWindowSeconds;
    expect(one(base)).toBe(30);
    expect(one({ ...base, reconnectWindowSeconds: 0 })).toBe(0);
    expect(one({ ...base, profile: P360 })).toBe(60);
  });
});

describe("a session moved to another node goes on from the old node's numbers", () => {
  const at = { nodeId: "old", mediaSequence: 41, discontinuitySequence: 2 };
  const s = (
    o: Partial<{ status: StreamStatusValue; nodeId: string | null; transcodeNodeId: string | null }>,
  ) => ({
    status: "starting" as StreamStatusValue,
    nodeId: "new",
    transcodeNodeId: null,
    ...o,
  });
  test("on another node while the session goes on: continueFrom", () => {
    expect(continueFromFor(s({}), at)).toEqual({ mediaSequence: 41, discontinuitySequence: 2 });
    expect(continueFromFor(s({ status: "reconnecting" }), at)).toEqual({
      mediaSequence: 41,
      discontinuitySequence: 2,
    });
    // Overflow: the transcoding peer serves it.
    expect(continueFromFor(s({ nodeId: "old", transcodeNodeId: "peer" }), at)?.mediaSequence).toBe(41);
  });
  test("on the same node, with no node, once idle, or with nothing reported: nothing", () => {
    expect(continueFromFor(s({ nodeId: "old" }), at)).toBeUndefined();
    expect(continueFromFor(s({ nodeId: null }), at)).toBeUndefined();
    expect(continueFromFor(s({ status: "idle" }), at)).toBeUndefined();
    expect(continueFromFor(s({}), undefined)).toBeUndefined();
  });
  test("desired state carries it to the serving node only", () => {
    const base = streamSnapshot("a", {
      status: "starting",
      nodeId: "ing",
      transcodeNodeId: "tx",
      continueFrom: { mediaSequence: 41, discontinuitySequence: 2 },
    });
    const relays = new Map([["ing", { relayUrl: "rtmp://ing.test:1935/relay" }]]);
    expect(desiredFor("tx", [base], relays)[0]?.continueFrom).toEqual({
      mediaSequence: 41,
      discontinuitySequence: 2,
    });
    expect(desiredFor("ing", [base], relays)[0]?.continueFrom).toBeUndefined();
  });
});

describe("reconnecting", () => {
  const row = async (id: string) => (await c.control.db.select().from(streams).where(eq(streams.id, id)))[0]!;
  const types = async (id: string) =>
    ((await c.api("GET", `/v1/events?limit=100&streamId=${id}`)).body.items as { type: string }[])
      .map((e) => e.type)
      .reverse();
  const route = async (id: string) => {
    const r = await c.api("GET", "/v1/routes", { key: ROUTER_KEY });
    expect(r.status).toBe(200);
    return (r.body.routes as { id: string; origins: { nodeId: string }[] }[]).find((x) => x.id === id);
  };
  const live = async (id: string, nodeId: string) => {
    expect(
      await claimStream(c.control.db, {
        streamId: id,
        nodeId,
        transcodeNodeId: null,
        admitted: null,
        reservedUntil: Date.now() + 30_000,
      }),
    ).toBe(true);
    const report = (status: StreamStatusValue) =>
      recordStreamStatus(c.control.db, { id, nodeId, status, ts: Date.now() }, 1000);
    expect(await report("live")).toBe(true);
    return report;
  };

  test("the publisher drops: disconnected, not idle; viewers keep their origin, capacity is held; back: connected again", async () => {
    const net = c.control.network!;
    net.onAnnounce(announce("rw-node"));
    const id = (await c.api("POST", "/v1/streams", { body: { name: "blip", reconnectWindowSeconds: 120 } }))
      .body.id as string;
    await net.reconcileNow();
    const report = await live(id, "rw-node");

    const before = Date.now();
    expect(await report("reconnecting")).toBe(true);
    const r = await row(id);
    expect(r.status).toBe("reconnecting");
    expect(r.reservedUntil).toBeGreaterThanOrEqual(before + 120_000);
    expect(r.reservedUntil).toBeLessThanOrEqual(Date.now() + 120_000);
    expect((await route(id))?.origins.map((o) => o.nodeId)).toEqual(["rw-node"]);
    expect((await c.api("GET", `/v1/streams/${id}`)).body.status).toBe("reconnecting");

    // The streamer is back on the same node: the claim keeps it reconnecting (still routed to
    // that node, whose playlists go on) until the node reports it live: connected and active again.
    expect(
      await claimStream(c.control.db, {
        streamId: id,
        nodeId: "rw-node",
        transcodeNodeId: null,
        admitted: null,
        reservedUntil: Date.now() + 30_000,
      }),
    ).toBe(true);
    expect((await row(id)).status).toBe("reconnecting");
    expect((await route(id))?.origins.map((o) => o.nodeId)).toEqual(["rw-node"]);
    await live(id, "rw-node");
    expect(await report("reconnecting")).toBe(true);
    expect(await report("idle")).toBe(true); // the node's window closed
    expect(await types(id)).toEqual([
      "stream.created",
      "stream.connected",
      "stream.active",
      "stream.disconnected",
      "stream.connected",
      "stream.active",
      "stream.disconnected",
      "stream.idle",
    ]);
  });

  test("its node dies while it is live: reconnecting without a node, then control closes the window", async () => {
    const net = c.control.network!;
    net.onAnnounce(announce("rw-dies"));
    const id = (
      await c.api("POST", "/v1/streams", { body: { name: "node dies", reconnectWindowSeconds: 1 } })
    ).body.id as string;
    await net.reconcileNow();
    await live(id, "rw-dies");
    net.onState("rw-dies", { state: "offline", ts: Date.now() }, "test");
    await net.reconcileNow();
    const r = await row(id);
    expect(r.status).toBe("reconnecting");
    expect(r.nodeId).toBeNull();
    expect((await route(id))?.origins).toEqual([]); // 503 at the routers while it waits, not 404
    expect(await types(id)).not.toContain("stream.idle");
    await waitFor(
      "window closed by control",
      async () => {
        await net.reconcileNow();
        return (await row(id)).status === "idle";
      },
      5000,
    );
    expect((await types(id)).slice(-2)).toEqual(["stream.disconnected", "stream.idle"]);
  });

  test("a window of 0: the node going offline ends the stream at once, as before", async () => {
    const net = c.control.network!;
    net.onAnnounce(announce("rw-zero"));
    const id = (
      await c.api("POST", "/v1/streams", { body: { name: "no window", reconnectWindowSeconds: 0 } })
    ).body.id as string;
    await net.reconcileNow();
    await live(id, "rw-zero");
    net.onState("rw-zero", { state: "offline", ts: Date.now() }, "test");
    await net.reconcileNow();
    expect((await row(id)).status).toBe("idle");
    expect((await types(id)).slice(-2)).toEqual(["stream.disconnected", "stream.idle"]);
  });
});
