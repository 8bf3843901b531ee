/**
 * Ingest URLs that work (issue 8): control assigns each stream its own SRT port once, keeps it
 * across restarts and moves, sends it in desired state, and writes each URL for the media
 * server the node runs. Real HTTP, a libSQL file, the embedded MQTT broker.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type NodeDesired, topics } from "@dionysia/shared";
import { waitFor } from "@dionysia/shared/testkit";
import mqtt from "mqtt";
import { upsertNodeFromAnnounce } from "../src/nodes/service.ts";
import { announce, NODE_KEY, startControl, type TestControl } from "./helpers/control.ts";

const RANGE = { STREAM_SRT_PORT_RANGE: "20000-20003" };
let c: TestControl;

beforeAll(async () => {
  c = await startControl({ env: { ...RANGE, RECONCILE_INTERVAL_MS: "200" } });
});
afterAll(async () => {
  await c?.stop();
});

const portOf = (url: string) => Number(/^srt:\/\/[^:/]+:(\d+)/.exec(url)?.[1]);

describe("per-stream SRT ports", () => {
  test("assigned at create, unique, in the create reply with the secrets filled in", async () => {
    const a = (await c.api("POST", "/v1/streams", { body: { name: "a" } })).body;
    const b = (await c.api("POST", "/v1/streams", { body: { name: "b" } })).body;
    expect(a.ingest.srt).toBe(`srt://ingest.test:20000?passphrase=${a.srtPassphrase}&pbkeylen=16`);
    expect(portOf(b.ingest.srt)).toBe(20001);
    // Reads show placeholders, never the secret, on the same port.
    const got = (await c.api("GET", `/v1/streams/${a.id}`)).body;
    expect(got.ingest.srt).toBe("srt://ingest.test:20000?passphrase={passphrase}&pbkeylen=16");
    expect((await c.api("GET", `/v1/streams/${a.id}/ingest`)).body.ingest.srt).toBe(got.ingest.srt);
    // Key rotation keeps the port, rotates the passphrase.
    const rotated = (await c.api("POST", `/v1/streams/${a.id}/key`)).body;
    expect(rotated.ingest.srt).toBe(
      `srt://ingest.test:20000?passphrase=${rotated.srtPassphrase}&pbkeylen=16`,
    );
    expect(rotated.srtPassphrase).not.toBe(a.srtPassphrase);

    // A deleted stream's port is not handed to the next stream (round-robin over the range)...
    expect((await c.api("DELETE", `/v1/streams/${b.id}`)).status).toBe(204);
    const d = (await c.api("POST", "/v1/streams", { body: { name: "d" } })).body;
    expect(portOf(d.ingest.srt)).toBe(20002);
    const e = (await c.api("POST", "/v1/streams", { body: { name: "e" } })).body;
    expect(portOf(e.ingest.srt)).toBe(20003);
    // ...only once the range went round; when it is full the stream has no SRT URL and says why.
    const f = (await c.api("POST", "/v1/streams", { body: { name: "f" } })).body;
    expect(portOf(f.ingest.srt)).toBe(20001);
    const g = await c.api("POST", "/v1/streams", { body: { name: "g" } });
    expect(g.status).toBe(201);
    expect(g.body.ingest.srt).toBeUndefined();
    expect(g.body.warnings).toEqual([{ code: "srt_ports_exhausted", message: expect.any(String) }]);
    await c.api("DELETE", `/v1/streams/${g.body.id}`);
    await c.api("DELETE", `/v1/streams/${f.id}`);
  });

  test("sent in desired state; a node's report does not move it; the URL follows the node's media server", async () => {
    const watcher = mqtt.connect(c.control.network?.mqttUrl as string, {
      protocolVersion: 4,
      // The embedded broker takes only known identities: these clients speak as control.
      username: c.control.network?.broker?.control.username,
      password: c.control.network?.broker?.control.password,
    });
    const desired = new Map<string, NodeDesired>();
    watcher.on("message", (_t, p) => {
      if (p.length) {
        const v = JSON.parse(p.toString()) as NodeDesired;
        desired.set(v.nodeId, v);
      }
    });
    await new Promise<void>((r) => watcher.on("connect", () => r()));
    await watcher.subscribeAsync("dionysia/v1/nodes/+/desired", { qos: 1 });
    try {
      await upsertNodeFromAnnounce(c.control.db, announce("emb"));
      const s = (await c.api("POST", "/v1/streams", { body: { name: "pushed", profileId: "builtin-360p" } }))
        .body;
      const port = portOf(s.ingest.srt);
      expect(
        (
          await c.api("POST", "/v1/ingest/authorize", {
            key: NODE_KEY,
            body: { streamKey: s.streamKey, nodeId: "emb", protocol: "srt" },
          })
        ).status,
      ).toBe(200);
      const entry = await waitFor(
        "desired entry with the port",
        () => desired.get("emb")?.streams.find((x) => x.id === s.id),
        10_000,
      );
      expect(entry.srtPort).toBe(port);
      expect((await c.api("GET", `/v1/streams/${s.id}`)).body.ingest.srt).toBe(
        `srt://emb.test:${port}?passphrase={passphrase}&pbkeylen=16`,
      );
      // A node that reports another port (its own pick) does not change what control assigned.
      await watcher.publishAsync(
        topics.streamStatus("emb", s.id),
        JSON.stringify({ id: s.id, nodeId: "emb", status: "live", ts: Date.now(), srtPort: 31999 }),
        { qos: 1 },
      );
      await waitFor(
        "live",
        async () => (await c.api("GET", `/v1/streams/${s.id}`)).body.status === "live",
        10_000,
      );
      expect(portOf((await c.api("GET", `/v1/streams/${s.id}`)).body.ingest.srt)).toBe(port);

      // mediamtx: one SRT port for all, the key in the streamid.
      await upsertNodeFromAnnounce(
        c.control.db,
        announce("mtx", {
          mediaServer: "mediamtx",
          ingest: { rtmp: "rtmp://mtx.test:1935/live", srt: "mtx.test:8890" },
        }),
      );
      const m = (await c.api("POST", "/v1/streams", { body: { name: "on mtx", profileId: "builtin-360p" } }))
        .body;
      await c.api("POST", "/v1/ingest/authorize", {
        key: NODE_KEY,
        body: { streamKey: m.streamKey, nodeId: "mtx", protocol: "rtmp" },
      });
      expect((await c.api("GET", `/v1/streams/${m.id}`)).body.ingest.srt).toBe(
        "srt://mtx.test:8890?streamid=publish:live/{streamKey}",
      );
    } finally {
      await watcher.endAsync();
    }
  });

  test("kept across a restart; streams that had none (older databases) get one at start", async () => {
    const env = { STREAM_SRT_PORT_RANGE: "20100-20109" };
    let d = await startControl({ env });
    try {
      const kept = (await d.api("POST", "/v1/streams", { body: { name: "kept" } })).body;
      const old = (await d.api("POST", "/v1/streams", { body: { name: "from an older database" } })).body;
      await d.control.client.execute({
        sql: "update streams set srt_port = null where id = ?",
        args: [old.id],
      });
      const dir = d.dir;
      await d.stop({ keepDir: true });
      d = await startControl({ dir, env });
      const keptPort = portOf((await d.api("GET", `/v1/streams/${kept.id}`)).body.ingest.srt);
      expect(keptPort).toBe(portOf(kept.ingest.srt));
      const backfilled = portOf((await d.api("GET", `/v1/streams/${old.id}`)).body.ingest.srt);
      // The next port of the round, not the one it had (20101) nor the kept stream's.
      expect(backfilled).toBe(20102);
      await d.stop({ keepDir: true });
      d = await startControl({ dir, env });
      expect(portOf((await d.api("GET", `/v1/streams/${old.id}`)).body.ingest.srt)).toBe(20102);
      expect(portOf((await d.api("GET", `/v1/streams/${kept.id}`)).body.ingest.srt)).toBe(keptPort);
    } finally {
      await d.stop();
    }
  });
});
