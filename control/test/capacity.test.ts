/**
 * Capacity that means what it says and admission that degrades (ADRs 0003, 0014), through the
 * real API and real MQTT stream status messages on the embedded broker.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BUILTIN_PROFILES, type NodeDesired, topics } from "@dionysia/shared";
import { waitFor } from "@dionysia/shared/testkit";
import mqtt from "mqtt";
import { upsertNodeFromAnnounce } from "../src/nodes/service.ts";
import { announce, NODE_KEY, startControl, type TestControl } from "./helpers/control.ts";

const GRACE_MS = 1500;

let c: TestControl;
let pub: mqtt.MqttClient;
const desired = new Map<string, NodeDesired>();

beforeAll(async () => {
  c = await startControl({ env: { RECONNECT_GRACE_MS: String(GRACE_MS), RECONCILE_INTERVAL_MS: "200" } });
  pub = mqtt.connect(c.control.network?.mqttUrl as string, {
    protocolVersion: 4,
    // The embedded broker takes only known identities: these clients speak as control.
    username: c.control.network?.broker?.control.username,
    password: c.control.network?.broker?.control.password,
  });
  pub.on("message", (_topic, payload) => {
    if (payload.length === 0) return;
    const d = JSON.parse(payload.toString()) as NodeDesired;
    desired.set(d.nodeId, d);
  });
  await new Promise<void>((r) => pub.on("connect", () => r()));
  await pub.subscribeAsync("dionysia/v1/nodes/+/desired", { qos: 1 });
});
afterAll(async () => {
  await pub?.endAsync();
  await c?.stop();
});

const authorize = (streamKey: string, nodeId: string) =>
  c.api("POST", "/v1/ingest/authorize", { key: NODE_KEY, body: { streamKey, nodeId, protocol: "rtmp" } });

async function report(id: string, nodeId: string, status: string, extra: Record<string, unknown> = {}) {
  await pub.publishAsync(
    topics.streamStatus(nodeId, id),
    JSON.stringify({ id, nodeId, status, ts: Date.now(), ...extra }),
    { qos: 1 },
  );
  await waitFor(
    `stream ${id} ${status}`,
    async () => (await c.api("GET", `/v1/streams/${id}`)).body.status === status,
    10_000,
  );
}

const create = async (name: string, profileId: string) =>
  (await c.api("POST", "/v1/streams", { body: { name, profileId } })).body;

describe("a stopped stream gives its capacity back", () => {
  test("stream 1 claimed -> live -> idle; streams 2 and 3 are then accepted on the same node", async () => {
    // Room for one 360p stream (7.162 units) and no neighbour.
    await upsertNodeFromAnnounce(c.control.db, announce("solo", { capacity: { loadUnits: 10 } }));
    const [s1, s2, s3] = [
      await create("one", "builtin-360p"),
      await create("two", "builtin-360p"),
      await create("three", "builtin-360p"),
    ];
    expect((await authorize(s1.streamKey, "solo")).status).toBe(200);
    // The ingest reservation holds the room before the node reports the stream live...
    const early = await authorize(s2.streamKey, "solo");
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe("no_capacity");
    await report(s1.id, "solo", "live");
    expect((await authorize(s2.streamKey, "solo")).body.error.code).toBe("no_capacity");
    // ...and the reconnect grace a little after the publisher leaves.
    await report(s1.id, "solo", "idle");
    const stoppedAt = Date.now();
    const inGrace = await authorize(s2.streamKey, "solo");
    if (Date.now() - stoppedAt < GRACE_MS) expect(inGrace.status).toBe(409);
    // The streamer of stream 1 reconnecting within its grace is let back in.
    if (Date.now() - stoppedAt < GRACE_MS - 200)
      expect((await authorize(s1.streamKey, "solo")).status).toBe(200);
    await report(s1.id, "solo", "idle");
    // Once the grace ran out, the idle stream holds nothing.
    const two = await waitFor(
      "stream 2 accepted",
      async () => {
        const r = await authorize(s2.streamKey, "solo");
        return r.status === 200 ? r : undefined;
      },
      15_000,
    );
    expect(two.body.streamId).toBe(s2.id);
    expect((await c.api("GET", `/v1/streams/${s1.id}`)).body).toMatchObject({
      status: "idle",
      nodeId: "solo",
    });
    await report(s2.id, "solo", "live");
    await report(s2.id, "solo", "idle");
    const three = await waitFor(
      "stream 3 accepted",
      async () => {
        const r = await authorize(s3.streamKey, "solo");
        return r.status === 200 ? r : undefined;
      },
      15_000,
    );
    expect(three.body.streamId).toBe(s3.id);
    expect((await c.api("GET", `/v1/streams/${s3.id}`)).body.nodeId).toBe("solo");
  }, 60_000);
});

describe("admission degrades instead of refusing", () => {
  test("a node too small for the ladder serves the rungs that fit; the API and desired state say so", async () => {
    // The node of the issue: calibrated to 19.8 units, the 720p ladder costs 47.1.
    await upsertNodeFromAnnounce(c.control.db, announce("small", { capacity: { loadUnits: 19.8 } }));
    const s = await create("trimmed", "builtin-720p");
    const r = await authorize(s.streamKey, "small");
    expect(r.status).toBe(200);
    expect(r.body.profile.renditions.map((x: { name: string }) => x.name)).toEqual(["480p", "360p"]);
    const got = (await c.api("GET", `/v1/streams/${s.id}`)).body;
    expect(got.ladder).toEqual({ requested: ["720p", "480p", "360p"], served: ["480p", "360p"] });
    expect(got.status).toBe("starting");
    const listed = (await c.api("GET", "/v1/streams?limit=100")).body.items.find(
      (x: { id: string }) => x.id === s.id,
    );
    expect(listed.ladder.served).toEqual(["480p", "360p"]);
    // The origin gets the trimmed profile, so its master playlist lists only served rungs. (A
    // desired version from before the claim may still carry the reservation's full ladder: wait
    // for the one after it.)
    const entry = await waitFor(
      "desired entry on small with the trimmed ladder",
      () => {
        const e = desired.get("small")?.streams.find((x) => x.id === s.id);
        return e && e.profile.renditions.length < 3 ? e : undefined;
      },
      10_000,
    );
    expect(entry.profile.renditions.map((x) => x.name)).toEqual(["480p", "360p"]);

    // The origin sheds a rung under overload: its report is what is served.
    await report(s.id, "small", "live", { renditions: ["360p"] });
    expect((await c.api("GET", `/v1/streams/${s.id}`)).body.ladder.served).toEqual(["360p"]);

    // Rungs come back at the next publish once there is room.
    await report(s.id, "small", "idle");
    await upsertNodeFromAnnounce(c.control.db, announce("small", { capacity: { loadUnits: 100 } }));
    const back = await waitFor(
      "full ladder admitted again",
      async () => {
        const a = await authorize(s.streamKey, "small");
        return a.status === 200 && a.body.profile.renditions.length === 3 ? a : undefined;
      },
      15_000,
    );
    expect(back.status).toBe(200);
    expect((await c.api("GET", `/v1/streams/${s.id}`)).body.ladder).toEqual({
      requested: ["720p", "480p", "360p"],
      served: ["720p", "480p", "360p"],
    });
    await waitFor(
      "desired entry with the whole ladder",
      () => desired.get("small")?.streams.find((x) => x.id === s.id)?.profile.renditions.length === 3,
      10_000,
    );
  }, 60_000);

  test("two publishes at once on one node are both admitted, trimmed so together they fit", async () => {
    await upsertNodeFromAnnounce(c.control.db, announce("pair", { capacity: { loadUnits: 30 } }));
    const a = await create("at once a", "builtin-720p");
    const b = await create("at once b", "builtin-720p");
    const [ra, rb] = await Promise.all([authorize(a.streamKey, "pair"), authorize(b.streamKey, "pair")]);
    expect([ra.status, rb.status]).toEqual([200, 200]);
    const served = [ra, rb].map((r) => r.body.profile.renditions.map((x: { name: string }) => x.name)).sort();
    // 47.1 does not fit 30: the first gets 480p+360p (19.46), the second what is left (360p, 7.16).
    expect(served).toEqual([["360p"], ["480p", "360p"]]);
  });

  test('"degrade": false refuses; not even the cheapest rung refuses; the reason is the code', async () => {
    await upsertNodeFromAnnounce(c.control.db, announce("mini", { capacity: { loadUnits: 19.8 } }));
    const strictProfile = await c.api("POST", "/v1/profiles", {
      body: { ...BUILTIN_PROFILES["builtin-720p"], name: "strict", degrade: false },
    });
    expect(strictProfile.status).toBe(201);
    expect(strictProfile.body.degrade).toBe(false);
    const strict = await create("strict", strictProfile.body.id);
    const r = await authorize(strict.streamKey, "mini");
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("no_capacity");
    expect(r.body.error.message).toContain("forbids trimming");
    // The refusal changes nothing: the stream stays where creation reserved it.
    expect((await c.api("GET", `/v1/streams/${strict.id}`)).body.nodeId).toBe(strict.nodeId);
    expect(strict.nodeId).not.toBe("mini");

    await upsertNodeFromAnnounce(c.control.db, announce("crumb", { capacity: { loadUnits: 5 } }));
    const s = await create("too big", "builtin-720p");
    const refused = await authorize(s.streamKey, "crumb");
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("no_capacity");
    expect(refused.body.error.message).toContain("cheapest rung");
    const m = (await c.api("GET", "/metrics", { key: null })).text;
    expect(m).toMatch(/dionysia_control_ingest_auth_failures_total\{reason="no_capacity"\} [1-9]/);
  });

  test("a profile no known node could ever carry, even trimmed, gets a warning on create and patch", async () => {
    const huge = await c.api("POST", "/v1/profiles", {
      body: {
        ...BUILTIN_PROFILES["builtin-360p"],
        name: "4k only",
        renditions: [{ name: "4k", codec: "h264", width: 3840, height: 2160, fps: 60, bitrateKbps: 20000 }],
      },
    });
    expect(huge.status).toBe(201);
    const created = await c.api("POST", "/v1/streams", { body: { name: "4k", profileId: huge.body.id } });
    expect(created.status).toBe(201);
    expect(created.body.warnings).toEqual([{ code: "exceeds_capacity", message: expect.any(String) }]);
    expect(created.body.warnings[0].message).toContain("largest node has");
    const plain = await c.api("POST", "/v1/streams", { body: { name: "ok", profileId: "builtin-720p" } });
    expect(plain.body.warnings).toBeUndefined();
    const patched = await c.api("PATCH", `/v1/streams/${plain.body.id}`, {
      body: { profileId: huge.body.id },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.warnings?.[0]?.code).toBe("exceeds_capacity");
    // Reads carry no warnings.
    expect((await c.api("GET", `/v1/streams/${plain.body.id}`)).body.warnings).toBeUndefined();
  });
});
