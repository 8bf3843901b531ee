/**
 * VOD assets on the control side (ADR 0095), real control on a libSQL file: origins' reports
 * become assets (once, with `recording.ready`), the API lists, shows and deletes them, routes
 * lead to the node that holds them, deletes and retention reach that node's desired state, and a
 * recording that stopped is a `stream.error`. Hostile reports change nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { AssetReport } from "@dionysia/shared";
import { eq } from "drizzle-orm";
import { pendingRemovals } from "../src/assets/service.ts";
import { assets } from "../src/db/schema.ts";
import { buildDesired } from "../src/mqtt/messages.ts";
import { claimStream, recordStreamStatus } from "../src/streams/assignment.ts";
import { announce, ROUTER_KEY, startControl, type TestControl } from "./helpers/control.ts";

let c: TestControl;
beforeAll(async () => {
  c = await startControl();
});
afterAll(async () => {
  await c?.stop();
});

const report = (streamId: string, id: string, over: Partial<AssetReport> = {}): AssetReport => ({
  id,
  streamId,
  nodeId: "vod-node",
  startedAt: Date.now() - 60_000,
  endedAt: Date.now() - 1000,
  durationSeconds: 42.5,
  renditions: ["720p", "480p"],
  segments: 22,
  bytes: 12_345_678,
  sessions: 2,
  ...over,
});
const types = async (q: string) =>
  (await c.api("GET", `/v1/events?limit=100&${q}`)).body.items as {
    type: string;
    data: Record<string, unknown>;
  }[];
const routes = async () => {
  const r = await c.api("GET", "/v1/routes", { key: ROUTER_KEY });
  return r.body.routes as { id: string; policy: string; origins: { nodeId: string }[] }[];
};

describe("assets", () => {
  let streamId = "";
  const net = () => c.control.network!;

  test("a stream records only when asked; the setting is validated", async () => {
    const s = await c.api("POST", "/v1/streams", {
      body: { name: "rec", record: true, recordingRetentionDays: 7 },
    });
    expect(s.status).toBe(201);
    expect(s.body).toMatchObject({ record: true, recordingRetentionDays: 7 });
    streamId = s.body.id;
    const plain = await c.api("POST", "/v1/streams", { body: { name: "plain" } });
    expect(plain.body).toMatchObject({ record: false, recordingRetentionDays: 30 });
    for (const bad of [0, 3651, "7"])
      expect(
        (await c.api("PATCH", `/v1/streams/${streamId}`, { body: { recordingRetentionDays: bad } })).status,
      ).toBe(422);
  });

  test("a node's report becomes one asset, with recording.ready once however often it repeats", async () => {
    net().onAnnounce(announce("vod-node"));
    await net().reconcileNow();
    const r = report(streamId, "assetAAAAAAAAAAAAAAA1");
    net().onAsset("vod-node", r.id, r);
    net().onAsset("vod-node", r.id, r); // retained copy again after a reconnect
    await net().reconcileNow();
    const list = await c.api("GET", "/v1/assets");
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0]).toMatchObject({
      id: r.id,
      streamId,
      nodeId: "vod-node",
      status: "ready",
      durationSeconds: 42.5,
      renditions: ["720p", "480p"],
      sessions: 2,
      playback: { hls: `http://router.test:8000/vod/${r.id}/master.m3u8` },
    });
    expect((await c.api("GET", `/v1/assets/${r.id}`)).body.id).toBe(r.id);
    expect(
      (await c.api("GET", `/v1/streams/${streamId}/assets`)).body.items.map((a: { id: string }) => a.id),
    ).toEqual([r.id]);
    expect((await c.api("GET", "/v1/streams/nosuchstream/assets")).status).toBe(404);
    const ready = (await types("type=recording.ready")).filter((e) => e.data.id === r.id);
    expect(ready).toHaveLength(1);
    expect(ready[0]!.data).toMatchObject({ streamId, durationSeconds: 42.5, sessions: 2 });
    // Its route: the node that holds it, the stream's policy.
    expect((await routes()).find((x) => x.id === r.id)).toMatchObject({
      policy: "public",
      origins: [{ nodeId: "vod-node" }],
    });
  });

  test("hostile reports change nothing: another node's topic, an unknown stream, a taken id", async () => {
    const before = (await c.api("GET", "/v1/assets")).body.items.length;
    net().onAsset("other-node", "assetBBBBBBBBBBBBBBB2", report(streamId, "assetBBBBBBBBBBBBBBB2"));
    net().onAsset("vod-node", "assetCCCCCCCCCCCCCCC3", report("nosuchstream", "assetCCCCCCCCCCCCCCC3"));
    // A node claiming an asset another node holds.
    net().onAsset(
      "evil-node",
      "assetAAAAAAAAAAAAAAA1",
      report(streamId, "assetAAAAAAAAAAAAAAA1", { nodeId: "evil-node" }),
    );
    await net().reconcileNow();
    expect((await c.api("GET", "/v1/assets")).body.items.length).toBe(before);
    expect((await c.api("GET", "/v1/assets/assetAAAAAAAAAAAAAAA1")).body.nodeId).toBe("vod-node");
    expect((await c.api("GET", "/v1/assets/assetBBBBBBBBBBBBBBB2")).status).toBe(404);
  });

  test("delete: gone from the API and the routes at once; its node is told to remove the files until it has", async () => {
    const id = "assetAAAAAAAAAAAAAAA1";
    expect((await c.api("DELETE", `/v1/assets/${id}`)).status).toBe(204);
    expect((await c.api("GET", `/v1/assets/${id}`)).status).toBe(404);
    expect((await c.api("DELETE", `/v1/assets/${id}`)).status).toBe(404);
    await net().reconcileNow();
    expect((await routes()).some((x) => x.id === id)).toBe(false);
    const pending = await pendingRemovals(c.control.db);
    expect(pending.get("vod-node")).toEqual([id]);
    expect(buildDesired("vod-node", 1, [], pending.get("vod-node")).deleteAssets).toEqual([id]);
    // The node removed it (cleared its retained report): nothing more to tell it.
    net().onAsset("vod-node", id, undefined);
    await net().reconcileNow();
    expect((await pendingRemovals(c.control.db)).get("vod-node")).toBeUndefined();
  });

  test("retention: an asset past its stream's recordingRetentionDays is deleted by the reconcile pass", async () => {
    const old = report(streamId, "assetDDDDDDDDDDDDDDD4", { endedAt: Date.now() - 8 * 86_400_000 });
    const fresh = report(streamId, "assetEEEEEEEEEEEEEEE5");
    net().onAsset("vod-node", old.id, old);
    net().onAsset("vod-node", fresh.id, fresh);
    await net().reconcileNow();
    await net().reconcileNow();
    const [row] = await c.control.db.select().from(assets).where(eq(assets.id, old.id));
    expect(row?.status).toBe("deleted");
    expect((await c.api("GET", `/v1/assets/${fresh.id}`)).status).toBe(200);
    expect((await pendingRemovals(c.control.db)).get("vod-node")).toEqual([old.id]);
  });

  test("an asset of a signed stream is signed: its route says so, and a token names the asset", async () => {
    const s = await c.api("POST", "/v1/streams", {
      body: { name: "signed rec", record: true, playbackPolicy: "signed" },
    });
    const r = report(s.body.id, "assetFFFFFFFFFFFFFFF6");
    net().onAsset("vod-node", r.id, r);
    await net().reconcileNow();
    expect((await routes()).find((x) => x.id === r.id)?.policy).toBe("signed");
    const t = await c.api("POST", `/v1/assets/${r.id}/playback-tokens`, { body: { ttlSeconds: 60 } });
    expect(t.status).toBe(201);
    expect(t.body.hls).toBe(`http://router.test:8000/vod/${r.id}/master.m3u8?token=${t.body.token}`);
    const claims = JSON.parse(Buffer.from(String(t.body.token).split(".")[1]!, "base64url").toString());
    expect(claims.sub).toBe(r.id);
    expect(
      (await c.api("POST", "/v1/assets/nosuchasset/playback-tokens", { body: { ttlSeconds: 60 } })).status,
    ).toBe(404);
  });

  test("a recording that stopped (disk nearly full) is one stream.error; the stream stays live", async () => {
    expect(
      await claimStream(c.control.db, {
        streamId,
        nodeId: "vod-node",
        transcodeNodeId: null,
        admitted: null,
        reservedUntil: Date.now() + 30_000,
      }),
    ).toBe(true);
    const st = (recordingError?: string) =>
      recordStreamStatus(
        c.control.db,
        {
          id: streamId,
          nodeId: "vod-node",
          status: "live",
          ts: Date.now(),
          ...(recordingError ? { recordingError } : {}),
        },
        1000,
      );
    expect(await st()).toBe(true);
    expect(await st("the disk is nearly full")).toBe(true);
    expect(await st("the disk is nearly full")).toBe(true);
    const errs = await types(`type=stream.error&streamId=${streamId}`);
    expect(errs).toHaveLength(1);
    expect(errs[0]!.data).toMatchObject({
      status: "live",
      error: "recording stopped: the disk is nearly full",
    });
    expect((await c.api("GET", `/v1/streams/${streamId}`)).body.status).toBe("live");
  });
});
