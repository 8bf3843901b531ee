/**
 * Every MQTT attack from issue 9, on the embedded aedes broker and on a real mosquitto with the
 * generated password + ACL files: each test asserts the refusal AND that the broker's state
 * (retained routes, desired state, node announce/state) is exactly what control published.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { nodeClientId, topics } from "@dionysia/shared";
import { hasMosquitto, waitFor } from "@dionysia/shared/testkit";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { sampleAnnounce, sampleDesiredStream } from "./helpers/mqttFixtures.ts";
import {
  type Cred,
  type SecureBroker,
  startSecureAedes,
  startSecureMosquitto,
} from "./helpers/secureBrokers.ts";

const A = "edge-a";
const B = "edge-b";
const MAX_PACKET = 64 * 1024;

interface Seen {
  topic: string;
  payload: string;
  retain: boolean;
}

interface Conn {
  c: MqttClient;
  seen: Seen[];
  closed: boolean;
}

type Attempt = { ok: true; conn: Conn } | { ok: false; code: number | undefined; message: string };

const open: MqttClient[] = [];

function attempt(url: string, cred: Cred | undefined, opts: IClientOptions = {}): Promise<Attempt> {
  const c = mqtt.connect(url, {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...(cred ?? {}),
    ...opts,
  });
  open.push(c);
  const conn: Conn = { c, seen: [], closed: false };
  c.on("message", (topic, payload, packet) =>
    conn.seen.push({ topic, payload: String(payload), retain: packet.retain }),
  );
  c.on("close", () => {
    conn.closed = true;
  });
  return new Promise((resolve) => {
    c.once("connect", () => resolve({ ok: true, conn }));
    c.once("error", (err) => {
      c.end(true);
      resolve({ ok: false, code: (err as { code?: number }).code, message: err.message });
    });
    c.once("close", () => resolve({ ok: false, code: undefined, message: "closed before CONNACK" }));
  });
}

async function connect(url: string, cred: Cred, opts: IClientOptions = {}): Promise<Conn> {
  const r = await attempt(url, cred, opts);
  if (!r.ok) throw new Error(`${cred.username} could not connect: ${r.message}`);
  return r.conn;
}

/** QoS 1 publish: "acked" (mosquitto drops a denied publish silently) or "closed" (aedes). */
function publish(
  conn: Conn,
  topic: string,
  payload: string | Buffer,
  retain = false,
): Promise<"acked" | "closed"> {
  if (conn.closed) return Promise.resolve("closed");
  return new Promise((resolve) => {
    const onClose = () => resolve("closed");
    conn.c.once("close", onClose);
    conn.c
      .publishAsync(topic, payload, { qos: 1, retain })
      .then(() => resolve("acked"))
      .catch(() => resolve("closed"))
      .finally(() => conn.c.off("close", onClose));
  });
}

/** Granted QoS per filter; 128 = refused. A refused connection counts as refused. */
async function subscribe(conn: Conn, filter: string): Promise<number> {
  try {
    const granted = await conn.c.subscribeAsync(filter, { qos: 1 });
    return granted[0]?.qos ?? 128;
  } catch {
    return 128;
  }
}

const desiredA = { version: 1, nodeId: A, streams: [sampleDesiredStream("sa")] };
const desiredB = {
  version: 7,
  nodeId: B,
  streams: [
    sampleDesiredStream("sb", { keyHash: "b".repeat(64), srtPassphrase: "passphrase-of-b-0123456789" }),
  ],
};
const route = {
  id: "sb",
  policy: "public",
  origins: [{ nodeId: B, url: "http://127.0.0.1:8091", region: "eu", lat: 1, lon: 2, role: "origin" }],
  ts: 1,
};

const announceB = JSON.stringify(sampleAnnounce(B));

/** What control (and node B) legitimately put on the broker: every test checks it is unchanged. */
const truth = (): Map<string, string> =>
  new Map([
    [topics.route("sb"), JSON.stringify(route)],
    [topics.nodeDesired(A), JSON.stringify(desiredA)],
    [topics.nodeDesired(B), JSON.stringify(desiredB)],
    [topics.nodeAnnounce(B), announceB],
    [topics.nodeState(B), JSON.stringify({ state: "online" })],
  ]);

const brokers: [string, () => Promise<SecureBroker>, boolean][] = [
  [
    "embedded aedes",
    () => startSecureAedes({ maxPacketBytes: MAX_PACKET, retained: { maxTopics: 8, maxBytes: 16 * 1024 } }),
    false,
  ],
  ["mosquitto", () => startSecureMosquitto([A, B], { maxPacketBytes: MAX_PACKET }), !hasMosquitto],
];
if (!hasMosquitto)
  console.warn("mosquitto not installed at /usr/sbin/mosquitto: mosquitto security tests skipped");

for (const [name, start, skip] of brokers) {
  describe.skipIf(skip)(`MQTT security on ${name}`, () => {
    let broker: SecureBroker;
    let control: Conn;
    let nodeB: Conn;
    /** Control's view of every topic, subscribed before any attack. */
    let watcher: Conn;
    let markers = 0;

    /** Round trip through the broker: everything published before is delivered before it. */
    async function settle(): Promise<void> {
      const m = `m${++markers}`;
      await control.c.publishAsync("dionysia/v1/test/marker", m, { qos: 1 });
      await waitFor(
        "marker",
        () => watcher.seen.some((s) => s.topic === "dionysia/v1/test/marker" && s.payload === m),
        5000,
      );
    }

    /** The retained state as a fresh control client sees it. */
    async function retainedNow(): Promise<Map<string, string>> {
      const fresh = await connect(broker.url, broker.controlAs("snap"), {
        clientId: `dionysia-control-snap-${++markers}`,
      });
      await fresh.c.subscribeAsync("dionysia/#", { qos: 1 });
      const want = [...truth().keys()];
      await waitFor(
        "retained snapshot",
        () => want.every((t) => fresh.seen.some((s) => s.topic === t)),
        5000,
      );
      const m = `snap${markers}`;
      await fresh.c.publishAsync("dionysia/v1/test/marker", m, { qos: 1 });
      await waitFor("snapshot marker", () => fresh.seen.some((s) => s.payload === m), 5000);
      fresh.c.end(true);
      return new Map(fresh.seen.filter((s) => s.retain).map((s) => [s.topic, s.payload]));
    }

    async function expectUnchanged(): Promise<void> {
      const now = await retainedNow();
      for (const [t, p] of truth()) expect({ t, p: now.get(t) }).toEqual({ t, p });
      const extra = [...now.keys()].filter(
        (t) => !truth().has(t) && !t.startsWith(`dionysia/v1/nodes/${A}/`),
      );
      expect(extra).toEqual([]);
    }

    beforeAll(async () => {
      broker = await start();
      control = await connect(broker.url, broker.control, { clientId: "dionysia-control-test" });
      watcher = await connect(broker.url, broker.controlAs("watch"), { clientId: "dionysia-control-watch" });
      await watcher.c.subscribeAsync("dionysia/#", { qos: 1 });
      await control.c.publishAsync(topics.route("sb"), JSON.stringify(route), { qos: 1, retain: true });
      await control.c.publishAsync(topics.nodeDesired(A), JSON.stringify(desiredA), { qos: 1, retain: true });
      await control.c.publishAsync(topics.nodeDesired(B), JSON.stringify(desiredB), { qos: 1, retain: true });
      nodeB = await connect(broker.url, broker.node(B), {
        clientId: nodeClientId(B),
        will: {
          topic: topics.nodeState(B),
          payload: Buffer.from('{"state":"offline"}'),
          qos: 1,
          retain: true,
        },
      });
      await publish(nodeB, topics.nodeAnnounce(B), announceB, true);
      await publish(nodeB, topics.nodeState(B), JSON.stringify({ state: "online" }), true);
      await expectUnchanged();
    });
    afterAll(async () => {
      for (const c of open.splice(0)) c.end(true);
      await broker.stop();
    });

    test("anonymous, unknown and wrong-password connects are refused", async () => {
      const anon = await attempt(broker.url, undefined);
      expect(anon.ok).toBe(false);
      const unknown = await attempt(broker.url, { username: "mallory.x", password: "whatever-password-123" });
      expect(unknown.ok).toBe(false);
      const wrong = await attempt(broker.url, { username: B, password: "0".repeat(64) });
      expect(wrong.ok).toBe(false);
      // A's password is not B's: derived per node from the enrolment secret.
      const crossed = await attempt(broker.url, { username: B, password: broker.node(A).password });
      expect(crossed.ok).toBe(false);
      for (const r of [anon, unknown, wrong, crossed]) if (!r.ok) expect([4, 5, undefined]).toContain(r.code);
      if (broker.refusals) {
        const n = broker.refusals();
        expect(n.anonymous).toBeGreaterThanOrEqual(1);
        expect(n.unknown_user).toBeGreaterThanOrEqual(1);
        expect(n.bad_password).toBeGreaterThanOrEqual(2);
      }
      expect(nodeB.closed).toBe(false);
      await expectUnchanged();
    });

    test("node A may publish its own topics and read its own desired state (the ACL is not deny-all)", async () => {
      const a = await connect(broker.url, broker.node(A), { clientId: nodeClientId(A) });
      expect(await publish(a, topics.nodeAnnounce(A), JSON.stringify(sampleAnnounce(A)), true)).toBe("acked");
      const status = { id: "sa", nodeId: A, status: "live", ts: 1 };
      expect(await publish(a, topics.streamStatus(A, "sa"), JSON.stringify(status), true)).toBe("acked");
      expect(await subscribe(a, topics.nodeDesired(A))).toBe(1);
      await waitFor("own desired", () => a.seen.some((s) => s.topic === topics.nodeDesired(A)), 5000);
      await settle();
      expect(watcher.seen.some((s) => s.topic === topics.streamStatus(A, "sa"))).toBe(true);
      a.c.end(true);
    });

    test("node A cannot publish node B's topics, any route or any desired state", async () => {
      const forged: [string, string][] = [
        [
          topics.nodeAnnounce(B),
          JSON.stringify({ ...sampleAnnounce(B), publicUrl: "http://127.0.0.1:9/evil" }),
        ],
        [topics.nodeState(B), JSON.stringify({ state: "offline" })],
        [topics.nodeTelemetry(B), JSON.stringify({ forged: true })],
        [topics.streamStatus(B, "sb"), JSON.stringify({ id: "sb", nodeId: B, status: "idle", ts: 2 })],
        [
          topics.route("sb"),
          JSON.stringify({ ...route, origins: [{ ...route.origins[0], url: "http://127.0.0.1:9/evil" }] }),
        ],
        [topics.route("new"), JSON.stringify({ ...route, id: "new" })],
        [
          topics.nodeDesired(B),
          JSON.stringify({ ...desiredB, version: Number.MAX_SAFE_INTEGER, streams: [] }),
        ],
        [
          topics.nodeDesired(A),
          JSON.stringify({ ...desiredA, version: Number.MAX_SAFE_INTEGER, streams: [] }),
        ],
        // The old status topic (outside every node's tree) is no one's to publish.
        [`dionysia/v1/streams/sb/status`, JSON.stringify({ id: "sb", nodeId: A, status: "idle", ts: 3 })],
      ];
      const before = watcher.seen.length;
      for (const [topic, payload] of forged) {
        const a = await connect(broker.url, broker.node(A), { clientId: nodeClientId(A) });
        const r = await publish(a, topic, payload, true);
        // aedes closes the connection (MQTT 3.1.1 has no negative PUBACK); mosquitto drops it.
        expect(r).toBe(name === "mosquitto" ? "acked" : "closed");
        a.c.end(true);
      }
      await settle();
      const got = watcher.seen.slice(before).filter((s) => s.topic !== "dionysia/v1/test/marker");
      expect(got.map((s) => s.topic)).toEqual([]);
      if (broker.refusals) expect(broker.refusals().publish_denied).toBeGreaterThanOrEqual(forged.length);
      expect(nodeB.closed).toBe(false);
      await expectUnchanged();
    });

    test("node A cannot subscribe to node B's desired state, nor to everything", async () => {
      const a = await connect(broker.url, broker.node(A), { clientId: nodeClientId(A) });
      const grants = [
        await subscribe(a, topics.nodeDesired(B)),
        await subscribe(a, "dionysia/#"),
        await subscribe(a, "#"),
      ];
      if (name === "embedded aedes") expect(grants).toEqual([128, 128, 128]);
      // Its own desired arrives after anything the refused filters could have delivered.
      await subscribe(a, topics.nodeDesired(A));
      await waitFor("own desired", () => a.seen.some((s) => s.topic === topics.nodeDesired(A)), 5000);
      // (mosquitto grants `#` but delivers only what A may read: its own desired, maybe twice.)
      expect([...new Set(a.seen.map((s) => s.topic))]).toEqual([topics.nodeDesired(A)]);
      expect(a.seen.some((s) => /b{64}|passphrase-of-b/.test(s.payload))).toBe(false);
      a.c.end(true);
    });

    test("a router cannot publish at all, and reads only routes and node state", async () => {
      const r = await connect(broker.url, broker.router, { clientId: "dionysia-router-t1" });
      const before = watcher.seen.length;
      const forged: [string, string][] = [
        [
          topics.route("sb"),
          JSON.stringify({ ...route, origins: [{ ...route.origins[0], url: "http://127.0.0.1:9/" }] }),
        ],
        [topics.nodeState(B), JSON.stringify({ state: "offline" })],
        [topics.nodeDesired(B), JSON.stringify({ ...desiredB, version: desiredB.version + 1, streams: [] })],
        [`dionysia/v1/nodes/${broker.router.username}/announce`, "{}"],
      ];
      let conn = r;
      for (const [topic, payload] of forged) {
        if (conn.closed) conn = await connect(broker.url, broker.router, { clientId: "dionysia-router-t1" });
        await publish(conn, topic, payload, true);
      }
      await settle();
      expect(watcher.seen.slice(before).filter((s) => !s.topic.endsWith("/test/marker"))).toEqual([]);
      await expectUnchanged();
      const reader = await connect(broker.url, broker.router, { clientId: "dionysia-router-t2" });
      expect(await subscribe(reader, "#")).toBe(name === "embedded aedes" ? 128 : 1);
      await subscribe(reader, topics.nodeDesired(B));
      await subscribe(reader, "dionysia/v1/routes/+");
      await subscribe(reader, "dionysia/v1/nodes/+/state");
      await waitFor(
        "router sees state",
        () => reader.seen.some((s) => s.topic === topics.nodeState(B)),
        5000,
      );
      expect(reader.seen.some((s) => s.topic === topics.route("sb"))).toBe(true);
      const readable = new Set(reader.seen.map((s) => s.topic));
      expect([...readable].sort()).toEqual([topics.nodeState(B), topics.route("sb")].sort());
      // No secret in anything a router can read; the route payload itself holds none.
      for (const s of reader.seen) expect(s.payload).not.toMatch(/keyHash|srtPassphrase|[0-9a-f]{64}|token=/);
      reader.c.end(true);
    });

    test("a dashboard reads telemetry, state, announce and stream status; never desired state or routes", async () => {
      const d = await connect(broker.url, broker.dashboard, { clientId: "dash-1" });
      const refused = [
        await subscribe(d, "#"),
        await subscribe(d, topics.nodeDesired(B)),
        await subscribe(d, "dionysia/v1/nodes/+/desired"),
      ];
      if (name === "embedded aedes") expect(refused).toEqual([128, 128, 128]);
      await subscribe(d, "dionysia/v1/routes/+");
      for (const f of [
        "dionysia/v1/nodes/+/announce",
        "dionysia/v1/nodes/+/state",
        "dionysia/v1/nodes/+/telemetry",
        "dionysia/v1/nodes/+/streams/+/status",
        "dionysia/v1/events/+",
      ])
        expect(await subscribe(d, f)).toBe(1);
      await waitFor("dashboard sees state", () => d.seen.some((s) => s.topic === topics.nodeState(B)), 5000);
      await waitFor(
        "dashboard sees announce",
        () => d.seen.some((s) => s.topic === topics.nodeAnnounce(B)),
        5000,
      );
      await publish(nodeB, topics.nodeTelemetry(B), JSON.stringify({ ts: 1 }));
      await waitFor(
        "dashboard sees telemetry",
        () => d.seen.some((s) => s.topic === topics.nodeTelemetry(B)),
        5000,
      );
      const kinds = new Set(d.seen.map((s) => s.topic.split("/").at(-1)));
      expect(kinds.has("desired")).toBe(false);
      expect(d.seen.some((s) => s.topic.startsWith("dionysia/v1/routes/"))).toBe(false);
      for (const s of d.seen) expect(s.payload).not.toMatch(/keyHash|srtPassphrase/);
      // Read-only: its publishes change nothing.
      const before = watcher.seen.length;
      await publish(d, topics.nodeState(B), JSON.stringify({ state: "offline" }), true);
      await settle();
      expect(watcher.seen.slice(before).filter((s) => !s.topic.endsWith("/test/marker"))).toEqual([]);
      await expectUnchanged();
      d.c.end(true);
    });

    test("a client id held by another identity is refused, not taken over", async () => {
      // Node A, a router and a dashboard each try node B's session.
      for (const cred of [broker.node(A), broker.router, broker.dashboard]) {
        const r = await attempt(broker.url, cred, { clientId: nodeClientId(B) });
        if (name === "embedded aedes") {
          expect(r.ok).toBe(false);
          if (!r.ok) expect(r.code).toBe(2);
        } else if (r.ok) r.conn.c.end(true); // mosquitto: the client id becomes the user name
      }
      const c = await attempt(broker.url, broker.router, { clientId: "dionysia-control-test" });
      if (name === "embedded aedes") expect(c.ok).toBe(false);
      else if (c.ok) c.conn.c.end(true);
      await settle();
      expect(nodeB.closed).toBe(false);
      expect(control.closed).toBe(false);
      // No will fired: B is still online, with its own announce.
      await expectUnchanged();
      if (broker.refusals) expect(broker.refusals().client_id_reserved).toBeGreaterThanOrEqual(4);
      // An unreserved id is still bound to whoever holds it: a router cannot take a dashboard's.
      const dash = await connect(broker.url, broker.dashboard, { clientId: "shared-id" });
      const taken = await attempt(broker.url, broker.router, { clientId: "shared-id" });
      if (name === "embedded aedes") {
        expect(taken.ok).toBe(false);
        if (!taken.ok) expect(taken.code).toBe(2);
        expect(broker.refusals?.().client_id_taken).toBe(1);
        await settle();
        expect(dash.closed).toBe(false);
      } else if (taken.ok) taken.conn.c.end(true);
      dash.c.end(true);
    });

    test("a node's will is bound to its own state topic", async () => {
      const r = await attempt(broker.url, broker.node(A), {
        clientId: nodeClientId(A),
        will: {
          topic: topics.nodeState(B),
          payload: Buffer.from('{"state":"offline"}'),
          qos: 1,
          retain: true,
        },
      });
      if (name === "embedded aedes") expect(r.ok).toBe(false);
      if (r.ok) (r.conn.c as unknown as { stream: { destroy(): void } }).stream.destroy();
      await settle();
      await expectUnchanged();
    });

    test("an oversized packet closes the connection before it is read", async () => {
      const a = await connect(broker.url, broker.node(A), { clientId: nodeClientId(A) });
      const before = watcher.seen.length;
      expect(await publish(a, topics.nodeTelemetry(A), Buffer.alloc(MAX_PACKET + 1024, 0x20))).toBe("closed");
      if (broker.refusals) expect(broker.refusals().packet_too_large).toBeGreaterThanOrEqual(1);
      // Even a CONNECT can be too big (80 KB of user name and password).
      const big = await attempt(broker.url, { username: "u".repeat(40_000), password: "x".repeat(40_000) });
      expect(big.ok).toBe(false);
      await settle();
      expect(watcher.seen.slice(before).filter((s) => s.topic === topics.nodeTelemetry(A))).toEqual([]);
      expect(control.closed).toBe(false);
      await expectUnchanged();
    });

    // The retained budget is the embedded broker's own (mosquitto has no per-client budget; its
    // ACL confines each node to its own tree), so the case exists only there.
    (name === "embedded aedes" ? test : () => {})(
      "retained messages past a node's budget are delivered but not kept",
      async () => {
        const a = await connect(broker.url, broker.node(A), { clientId: nodeClientId(A) });
        for (let i = 0; i < 12; i++)
          await publish(
            a,
            topics.streamStatus(A, `flood${i}`),
            JSON.stringify({ id: `flood${i}`, nodeId: A, status: "idle", ts: i }),
            true,
          );
        await settle();
        expect(watcher.seen.filter((s) => s.topic.includes("/streams/flood")).length).toBe(12);
        const mine = (m: Map<string, string>) =>
          [...m.keys()].filter((t) => t.startsWith(`dionysia/v1/nodes/${A}/`) && t !== topics.nodeDesired(A));
        const kept = mine(await retainedNow());
        // 8 topics for A: its announce and status from the earlier test, and 6 of the flood
        // (control's retained desired state under A's tree is not A's budget).
        expect(kept.length).toBe(8);
        expect(broker.refusals?.().retained_budget).toBe(6);
        // Clearing frees budget again.
        for (let i = 0; i < 12; i++) await publish(a, topics.streamStatus(A, `flood${i}`), "", true);
        expect(
          await publish(
            a,
            topics.streamStatus(A, "again"),
            JSON.stringify({ id: "again", nodeId: A, status: "idle", ts: 1 }),
            true,
          ),
        ).toBe("acked");
        const after = mine(await retainedNow());
        expect(after).toContain(topics.streamStatus(A, "again"));
        a.c.end(true);
      },
    );

    test("the same identity may take over its own session (a node back from a half-open connection)", async () => {
      const again = await connect(broker.url, broker.node(B), { clientId: nodeClientId(B) });
      await waitFor("old session closed", () => nodeB.closed, 5000);
      nodeB = again;
      // The old connection's will fired (offline); the new session says online again, as an origin does.
      await publish(nodeB, topics.nodeState(B), JSON.stringify({ state: "online" }), true);
      await expectUnchanged();
    });
  });
}
