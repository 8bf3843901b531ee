import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { NodeAnnounce, validate } from "@dionysia/shared";
import {
  carriedLoadsNow,
  recordNodeTelemetry,
  setNodeState,
  upsertNodeFromAnnounce,
} from "../src/nodes/service.ts";
import { assignStream, setStreamStatus } from "../src/streams/assignment.ts";
import { announce, NODE_KEY, ROUTER_KEY, startControl, type TestControl } from "./helpers/control.ts";

let c: TestControl;
beforeAll(async () => {
  c = await startControl();
});
afterAll(async () => {
  await c.stop();
});

const authorize = (streamKey: string, nodeId: string, key: string | null = NODE_KEY) =>
  c.api("POST", "/v1/ingest/authorize", {
    key,
    body: { streamKey, nodeId, protocol: "rtmp", remoteAddr: "10.0.0.9" },
  });

describe("nodes", () => {
  test("announce, state and telemetry functions feed the read API", async () => {
    expect(validate(NodeAnnounce, announce("paris"))).toBeUndefined();
    const events: unknown[] = [];
    const off = c.control.events.on("node.updated", (e) => events.push(e));
    await upsertNodeFromAnnounce(c.control.db, announce("paris"), c.control.events);
    off();
    expect(events).toEqual([{ nodeId: "paris" }]);
    const r = await c.api("GET", "/v1/nodes/paris");
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id: "paris",
      state: "online",
      cordoned: false,
      draining: false,
      region: "eu-west",
    });
    expect(r.body.capacity.loadUnits).toBe(200);

    expect(
      await recordNodeTelemetry(c.control.db, "paris", {
        ts: Date.now(),
        cpu: 0.5,
        memory: { usedBytes: 1, totalBytes: 2 },
        loadUsed: 12,
        loadCapacity: 200,
        ingressBps: 1000,
        egressBps: 5000,
        streams: [{ id: "abc", status: "live" }],
      }),
    ).toBe(true);
    const t = (await c.api("GET", "/v1/nodes/paris")).body;
    expect(t.load).toEqual({ used: 12, cpu: 0.5, ingressBps: 1000, egressBps: 5000, streams: 1 });

    expect(await setNodeState(c.control.db, "paris", "offline")).toBe(true);
    expect((await c.api("GET", "/v1/nodes/paris")).body.state).toBe("offline");
    expect(await setNodeState(c.control.db, "ghost", "offline")).toBe(false);
    // A re-announce brings it back online and keeps operator flags.
    await c.api("PATCH", "/v1/nodes/paris", { body: { cordoned: true } });
    await upsertNodeFromAnnounce(c.control.db, announce("paris", { version: "0.2.0" }));
    const again = (await c.api("GET", "/v1/nodes/paris")).body;
    expect(again).toMatchObject({ state: "online", cordoned: true, version: "0.2.0" });
    await c.api("PATCH", "/v1/nodes/paris", { body: { cordoned: false } });

    const list = await c.api("GET", "/v1/nodes");
    expect(list.body.items.map((n: { id: string }) => n.id)).toContain("paris");
  });

  test("PATCH cordons/drains (admin only), validates, 404s", async () => {
    await upsertNodeFromAnnounce(c.control.db, announce("lyon"));
    const r = await c.api("PATCH", "/v1/nodes/lyon", { body: { cordoned: true, draining: true } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ cordoned: true, draining: true });
    expect((await c.api("PATCH", "/v1/nodes/lyon", { body: {} })).status).toBe(422);
    expect((await c.api("PATCH", "/v1/nodes/lyon", { body: { cordoned: "yes" } })).status).toBe(422);
    expect((await c.api("PATCH", "/v1/nodes/lyon", { body: { state: "online" } })).status).toBe(422);
    expect((await c.api("PATCH", "/v1/nodes/nowhere", { body: { cordoned: true } })).status).toBe(404);
    const user = (await c.api("POST", "/v1/api-keys", { body: { name: "u", role: "user" } })).body.key;
    expect((await c.api("GET", "/v1/nodes/lyon", { key: user })).status).toBe(200);
    const forbidden = await c.api("PATCH", "/v1/nodes/lyon", { key: user, body: { cordoned: false } });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe("forbidden");
    expect((await c.api("DELETE", "/v1/nodes/lyon", { key: user })).status).toBe(403);
  });

  test("DELETE forgets a node and unassigns its streams", async () => {
    await upsertNodeFromAnnounce(c.control.db, announce("doomed"));
    const s = (await c.api("POST", "/v1/streams", { body: { name: "on doomed" } })).body;
    expect(await assignStream(c.control.db, s.id, "doomed")).toBe(true);
    expect((await c.api("GET", `/v1/streams/${s.id}`)).body.nodeId).toBe("doomed");
    const assigned: unknown[] = [];
    const off = c.control.events.on("stream.assigned", (e) => assigned.push(e));
    expect((await c.api("DELETE", "/v1/nodes/doomed")).status).toBe(204);
    off();
    expect(assigned).toEqual([{ streamId: s.id, nodeId: null, previousNodeId: "doomed" }]);
    expect((await c.api("GET", `/v1/streams/${s.id}`)).body.nodeId).toBeNull();
    expect((await c.api("GET", "/v1/nodes/doomed")).status).toBe(404);
    expect((await c.api("DELETE", "/v1/nodes/doomed")).status).toBe(404);
  });
});

describe("ingest choice", () => {
  test("nearest eligible node with headroom; sticky; 503 when full", async () => {
    // Fresh control: no nodes known -> default host.
    const d = await startControl();
    try {
      const s = (await d.api("POST", "/v1/streams", { body: { name: "where" } })).body;
      const none = await d.api("GET", `/v1/streams/${s.id}/ingest`);
      expect(none.status).toBe(200);
      expect(none.body).toEqual({
        nodeId: null,
        host: "ingest.test",
        ingest: {
          rtmp: "rtmp://ingest.test:1935/live",
          // The stream's own SRT port, assigned at creation (the first of the range).
          srt: "srt://ingest.test:10000?passphrase={passphrase}&pbkeylen=16",
        },
      });
      await upsertNodeFromAnnounce(d.control.db, announce("paris", { lat: 48.85, lon: 2.35 }));
      await upsertNodeFromAnnounce(
        d.control.db,
        announce("nyc", { lat: 40.71, lon: -74.0, region: "us-east" }),
      );
      const eu = await d.api("GET", `/v1/streams/${s.id}/ingest?lat=51.5&lon=-0.12`);
      expect(eu.body.nodeId).toBe("paris");
      expect(eu.body.host).toBe("paris.test");
      expect(eu.body.ingest.rtmp).toBe("rtmp://paris.test:1935/live");
      expect(eu.body.ingest.srt).toBe("srt://paris.test:10000?passphrase={passphrase}&pbkeylen=16");
      // The choice reserves the unplaced stream there, so per-stream listeners start on that node.
      expect((await d.api("GET", `/v1/streams/${s.id}`)).body.nodeId).toBe("paris");
      await assignStream(d.control.db, s.id, null);
      const us = await d.api("GET", `/v1/streams/${s.id}/ingest?lat=42.3&lon=-71`);
      expect(us.body.nodeId).toBe("nyc");
      await assignStream(d.control.db, s.id, null);
      // Cordoned nodes are skipped.
      await d.api("PATCH", "/v1/nodes/nyc", { body: { cordoned: true } });
      expect((await d.api("GET", `/v1/streams/${s.id}/ingest?lat=42.3&lon=-71`)).body.nodeId).toBe("paris");
      // Sticky: once assigned to a healthy node, that node is returned wherever the streamer is.
      await assignStream(d.control.db, s.id, "paris");
      expect((await d.api("GET", `/v1/streams/${s.id}/ingest?lat=-33.8&lon=151.2`)).body.nodeId).toBe(
        "paris",
      );
      await assignStream(d.control.db, s.id, null);
      // Offline, cordoned: no capacity anywhere -> 503.
      await setNodeState(d.control.db, "paris", "offline");
      const full = await d.api("GET", `/v1/streams/${s.id}/ingest?lat=48&lon=2`);
      expect(full.status).toBe(503);
      expect(full.body.error.code).toBe("no_capacity");
      // A node too small for even the cheapest rung of the 720p ladder (360p, 7.2 units) does not
      // count; one with room for that rung does (it admits the ladder trimmed).
      await upsertNodeFromAnnounce(d.control.db, announce("tiny", { capacity: { loadUnits: 5 } }));
      expect((await d.api("GET", `/v1/streams/${s.id}/ingest`)).status).toBe(503);
      await upsertNodeFromAnnounce(d.control.db, announce("tiny", { capacity: { loadUnits: 10 } }));
      expect((await d.api("GET", `/v1/streams/${s.id}/ingest`)).body.nodeId).toBe("tiny");
      expect((await d.api("GET", `/v1/streams/${s.id}/ingest?lat=100&lon=0`)).status).toBe(422);
      expect((await d.api("GET", "/v1/streams/unknown/ingest")).status).toBe(404);
    } finally {
      await d.stop();
    }
  });
});

describe("ingest authorize", () => {
  test("claims the stream for the first node, sticky while live, frees when node dies", async () => {
    // Created before a1 and b1 are known: creation reserves it elsewhere or nowhere (reserveIngest).
    const s = (await c.api("POST", "/v1/streams", { body: { name: "claim", profileId: "builtin-360p" } }))
      .body;
    expect(["a1", "b1"]).not.toContain(s.nodeId);
    await upsertNodeFromAnnounce(c.control.db, announce("a1"));
    await upsertNodeFromAnnounce(c.control.db, announce("b1"));
    const assigned: unknown[] = [];
    const off = c.control.events.on("stream.assigned", (e) => assigned.push(e));
    const ok = await authorize(s.streamKey, "a1");
    expect(ok.status).toBe(200);
    expect(ok.body.streamId).toBe(s.id);
    expect(ok.body.profileId).toBe("builtin-360p");
    expect(ok.body.profile.renditions[0].height).toBe(360);
    expect(ok.body.keyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(assigned).toEqual([{ streamId: s.id, nodeId: "a1", previousNodeId: s.nodeId }]);
    const got = (await c.api("GET", `/v1/streams/${s.id}`)).body;
    expect(got.nodeId).toBe("a1");
    expect(got.ingest.rtmp).toBe("rtmp://a1.test:1935/live");

    await setStreamStatus(c.control.db, s.id, "live");
    const taken = await authorize(s.streamKey, "b1");
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe("already_live");
    // Same node reconnecting is fine.
    expect((await authorize(s.streamKey, "a1")).status).toBe(200);
    await setStreamStatus(c.control.db, s.id, "live");
    // The owner dies: another node may claim.
    await setNodeState(c.control.db, "a1", "offline");
    const moved = await authorize(s.streamKey, "b1");
    expect(moved.status).toBe(200);
    expect((await c.api("GET", `/v1/streams/${s.id}`)).body.nodeId).toBe("b1");
    off();
    expect(assigned).toHaveLength(2);
    const loads = await carriedLoadsNow(c.control.db);
    expect(loads.get("b1")).toBeCloseTo(7.162, 3); // 640x360@30 + audio
  });

  test("no headroom on the asking node, not even for the cheapest rung -> 409 no_capacity", async () => {
    await upsertNodeFromAnnounce(c.control.db, announce("small", { capacity: { loadUnits: 5 } }));
    const big = (await c.api("POST", "/v1/streams", { body: { name: "big", profileId: "builtin-1080p" } }))
      .body;
    const r = await authorize(big.streamKey, "small");
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("no_capacity");
    // The refusal changes nothing: the stream stays where creation reserved it (if anywhere).
    expect((await c.api("GET", `/v1/streams/${big.id}`)).body.nodeId).toBe(big.nodeId);
    expect(big.nodeId).not.toBe("small");
  });

  test("unknown node is authorized but not assigned", async () => {
    const s = (await c.api("POST", "/v1/streams", { body: { name: "early" } })).body;
    const r = await authorize(s.streamKey, "not-announced");
    expect(r.status).toBe(200);
    expect((await c.api("GET", `/v1/streams/${s.id}`)).body.nodeId).toBe(s.nodeId);
    expect(s.nodeId).not.toBe("not-announced");
  });

  test("wrong key: 403 without detail, counted in metrics; credentials and body checked", async () => {
    const before = await c.api("GET", "/metrics", { key: null });
    const r = await authorize("sk_definitely_not_a_key", "a1");
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ error: { code: "unknown_key", message: "not authorized" } });
    const m = (await c.api("GET", "/metrics", { key: null })).text;
    expect(before.text).not.toContain('dionysia_control_ingest_auth_failures_total{reason="unknown_key"} 1');
    expect(m).toMatch(/dionysia_control_ingest_auth_failures_total\{reason="unknown_key"\} [1-9]/);

    const s = (await c.api("POST", "/v1/streams", { body: { name: "creds" } })).body;
    expect((await authorize(s.streamKey, "a1", null)).status).toBe(401);
    expect((await authorize(s.streamKey, "a1", "wrong-node-credential")).status).toBe(401);
    // An admin API key is not a node credential.
    expect((await authorize(s.streamKey, "a1", "dk_test_admin_key_0123456789abcdef")).status).toBe(401);
    const bad = await c.api("POST", "/v1/ingest/authorize", {
      key: NODE_KEY,
      body: { streamKey: s.streamKey, nodeId: "a1", protocol: "carrier-pigeon" },
    });
    expect(bad.status).toBe(422);
    const extra = await c.api("POST", "/v1/ingest/authorize", {
      key: NODE_KEY,
      body: { streamKey: s.streamKey, nodeId: "a1", protocol: "rtmp", extra: 1 },
    });
    expect(extra.status).toBe(422);
    expect((await c.api("POST", "/v1/ingest/authorize", { key: NODE_KEY, raw: "{" })).status).toBe(400);
  });
});

describe("routes", () => {
  test("placed streams with their node; router credential or admin key", async () => {
    const d = await startControl();
    try {
      await upsertNodeFromAnnounce(d.control.db, announce("edge1", { lat: 10, lon: 20, region: "r1" }));
      const placed = (await d.api("POST", "/v1/streams", { body: { name: "p", playbackPolicy: "signed" } }))
        .body;
      await d.api("POST", "/v1/streams", { body: { name: "unplaced" } });
      await assignStream(d.control.db, placed.id, "edge1");
      // Routes follow readiness: a placed stream is routed once its node reports it live.
      expect((await d.api("GET", "/v1/routes", { key: ROUTER_KEY })).body).toEqual({ routes: [] });
      await setStreamStatus(d.control.db, placed.id, "live");
      const r = await d.api("GET", "/v1/routes", { key: ROUTER_KEY });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({
        routes: [
          {
            id: placed.id,
            policy: "signed",
            ts: expect.any(Number),
            origins: [
              {
                nodeId: "edge1",
                url: "http://edge1.test:8090",
                region: "r1",
                lat: 10,
                lon: 20,
                role: "origin",
              },
            ],
          },
        ],
      });
      expect((await d.api("GET", "/v1/routes")).status).toBe(200);
      expect((await d.api("GET", "/v1/routes", { key: null })).status).toBe(401);
      expect((await d.api("GET", "/v1/routes", { key: NODE_KEY })).status).toBe(401);
      const user = (await d.api("POST", "/v1/api-keys", { body: { name: "u" } })).body.key;
      expect((await d.api("GET", "/v1/routes", { key: user })).status).toBe(403);
    } finally {
      await d.stop();
    }
  });
});
