import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ControlEventMap } from "../src/events.ts";
import { setStreamStatus } from "../src/streams/assignment.ts";
import { startControl, type TestControl } from "./helpers/control.ts";

let c: TestControl;
beforeAll(async () => {
  c = await startControl();
});
afterAll(async () => {
  await c.stop();
});

describe("streams", () => {
  test("create returns id, key and passphrase once, with ingest and playback URLs", async () => {
    const created: ControlEventMap["stream.created"][] = [];
    const off = c.control.events.on("stream.created", (e) => created.push(e));
    const r = await c.api("POST", "/v1/streams", {
      body: { name: "cam 1", region: "eu-west", location: { lat: 48.8, lon: 2.3 } },
    });
    off();
    expect(r.status).toBe(201);
    const s = r.body;
    expect(s.id).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(s.streamKey).toMatch(/^sk_[A-Za-z0-9]{40}$/);
    expect(s.srtPassphrase.length).toBeGreaterThanOrEqual(10);
    expect(s.profileId).toBe("builtin-720p");
    expect(s.status).toBe("idle");
    expect(s.nodeId).toBeNull();
    expect(s.location).toEqual({ lat: 48.8, lon: 2.3 });
    expect(s.ingest.rtmp).toBe("rtmp://ingest.test:1935/live");
    expect(s.ingest.srt).toStartWith("srt://ingest.test:");
    expect(s.playback.hls).toBe(`http://router.test:8000/live/${s.id}/master.m3u8`);
    expect(s.playback.dash).toBe(`http://router.test:8000/live/${s.id}/manifest.mpd`);
    expect(created).toEqual([{ streamId: s.id }]);

    const got = await c.api("GET", `/v1/streams/${s.id}`);
    expect(got.status).toBe(200);
    expect(got.body.id).toBe(s.id);
    expect(got.body.streamKey).toBeUndefined();
    expect(got.body.srtPassphrase).toBeUndefined();
    expect(got.text).not.toContain(s.streamKey);
    expect(got.text).not.toContain(s.srtPassphrase);
  });

  test("profile without dash gives no DASH URL; unknown profile is 422", async () => {
    const p = await c.api("POST", "/v1/profiles", {
      body: {
        name: "hls only",
        renditions: [],
        audio: { codec: "aac", bitrateKbps: 96 },
        segmentDuration: 2,
        formats: ["hls"],
      },
    });
    expect(p.status).toBe(201);
    const s = await c.api("POST", "/v1/streams", { body: { name: "radio", profileId: p.body.id } });
    expect(s.status).toBe(201);
    expect(s.body.playback.dash).toBeUndefined();
    const bad = await c.api("POST", "/v1/streams", { body: { name: "x", profileId: "nope" } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.code).toBe("unknown_profile");
  });

  test("list paginates with a cursor, filters by status, never shows keys", async () => {
    const keys: string[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await c.api("POST", "/v1/streams", { body: { name: `page ${i}` } });
      keys.push(r.body.streamKey);
      ids.push(r.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `?limit=2&cursor=${cursor}` : "?limit=2";
      const r = await c.api("GET", `/v1/streams${q}`);
      expect(r.status).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(2);
      for (const k of keys) expect(r.text).not.toContain(k);
      expect(r.text).not.toContain("keyHash");
      expect(r.text).not.toContain("srtPassphrase");
      seen.push(...r.body.items.map((s: { id: string }) => s.id));
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor && pages < 50);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of ids) expect(seen).toContain(id);

    const target = ids[2] as string;
    await setStreamStatus(c.control.db, target, "live");
    const live = await c.api("GET", "/v1/streams?status=live");
    expect(live.body.items.map((s: { id: string }) => s.id)).toEqual([target]);
    const idle = await c.api("GET", "/v1/streams?status=idle&limit=100");
    expect(idle.body.items.every((s: { status: string }) => s.status === "idle")).toBe(true);

    expect((await c.api("GET", "/v1/streams?status=bogus")).status).toBe(422);
    expect((await c.api("GET", "/v1/streams?limit=0")).status).toBe(422);
    expect((await c.api("GET", "/v1/streams?limit=abc")).status).toBe(422);
    const badCursor = await c.api("GET", "/v1/streams?cursor=garbage");
    expect(badCursor.status).toBe(422);
    expect(badCursor.body.error.code).toBe("invalid_cursor");
  });

  test("patch changes fields, validates, emits; unknown id is 404", async () => {
    const s = (await c.api("POST", "/v1/streams", { body: { name: "patch me" } })).body;
    const updated: unknown[] = [];
    const off = c.control.events.on("stream.updated", (e) => updated.push(e));
    const r = await c.api("PATCH", `/v1/streams/${s.id}`, {
      body: {
        name: "renamed",
        profileId: "builtin-360p",
        playbackPolicy: "signed",
        region: "us-east",
        location: { lat: 40.7, lon: -74 },
        source: "rtsp://camera.local/stream",
      },
    });
    off();
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      name: "renamed",
      profileId: "builtin-360p",
      playbackPolicy: "signed",
      region: "us-east",
      location: { lat: 40.7, lon: -74 },
      source: "rtsp://camera.local/stream",
    });
    expect(updated).toEqual([{ streamId: s.id, nodeId: null }]);
    const cleared = await c.api("PATCH", `/v1/streams/${s.id}`, {
      body: { source: null, location: null, region: null },
    });
    expect(cleared.body).toMatchObject({ source: null, location: null, region: null });

    expect((await c.api("PATCH", `/v1/streams/${s.id}`, { body: {} })).status).toBe(422);
    expect((await c.api("PATCH", `/v1/streams/${s.id}`, { body: { source: "ftp://x" } })).status).toBe(422);
    expect(
      (await c.api("PATCH", `/v1/streams/${s.id}`, { body: { playbackPolicy: "private" } })).status,
    ).toBe(422);
    const unknownField = await c.api("PATCH", `/v1/streams/${s.id}`, { body: { name: "a", status: "live" } });
    expect(unknownField.status).toBe(422);
    expect(JSON.stringify(unknownField.body.error.details)).toContain("/status");
    const missing = await c.api("PATCH", "/v1/streams/doesnotexist", { body: { name: "x" } });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("not_found");
  });

  test("create validates the body: missing name, unknown field, malformed JSON", async () => {
    const noName = await c.api("POST", "/v1/streams", { body: {} });
    expect(noName.status).toBe(422);
    expect(noName.body.error.code).toBe("validation_failed");
    expect(noName.body.error.details.problems.length).toBeGreaterThan(0);
    const extra = await c.api("POST", "/v1/streams", { body: { name: "x", streamKey: "sk_mine" } });
    expect(extra.status).toBe(422);
    const malformed = await c.api("POST", "/v1/streams", { raw: '{"name": ' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe("invalid_body");
    expect(malformed.text).not.toContain("    at ");
    const badLoc = await c.api("POST", "/v1/streams", { body: { name: "x", location: { lat: 91, lon: 0 } } });
    expect(badLoc.status).toBe(422);
  });

  test("rotate key: new key once, old key stops authorizing", async () => {
    const s = (await c.api("POST", "/v1/streams", { body: { name: "rotate" } })).body;
    const rotatedEvents: unknown[] = [];
    const off = c.control.events.on("stream.keyRotated", (e) => rotatedEvents.push(e));
    const r = await c.api("POST", `/v1/streams/${s.id}/key`);
    off();
    expect(r.status).toBe(200);
    expect(r.body.streamKey).toMatch(/^sk_/);
    expect(r.body.streamKey).not.toBe(s.streamKey);
    expect(rotatedEvents).toEqual([{ streamId: s.id, nodeId: null }]);
    const nodeAuth = { key: "node-credential-0123456789" };
    const old = await c.api("POST", "/v1/ingest/authorize", {
      ...nodeAuth,
      body: { streamKey: s.streamKey, nodeId: "n1", protocol: "rtmp" },
    });
    expect(old.status).toBe(403);
    const fresh = await c.api("POST", "/v1/ingest/authorize", {
      ...nodeAuth,
      body: { streamKey: r.body.streamKey, nodeId: "n1", protocol: "rtmp" },
    });
    expect(fresh.status).toBe(200);
    expect(fresh.body.streamId).toBe(s.id);
    expect((await c.api("POST", "/v1/streams/nope/key")).status).toBe(404);
  });

  test("delete removes the stream and emits; second delete is 404", async () => {
    const s = (await c.api("POST", "/v1/streams", { body: { name: "bye" } })).body;
    const deleted: unknown[] = [];
    const off = c.control.events.on("stream.deleted", (e) => deleted.push(e));
    expect((await c.api("DELETE", `/v1/streams/${s.id}`)).status).toBe(204);
    off();
    expect(deleted).toEqual([{ streamId: s.id, nodeId: null }]);
    expect((await c.api("GET", `/v1/streams/${s.id}`)).status).toBe(404);
    expect((await c.api("DELETE", `/v1/streams/${s.id}`)).status).toBe(404);
  });

  test("every stream route needs a valid key", async () => {
    const s = (await c.api("POST", "/v1/streams", { body: { name: "authz" } })).body;
    const routes: [string, string][] = [
      ["POST", "/v1/streams"],
      ["GET", "/v1/streams"],
      ["GET", `/v1/streams/${s.id}`],
      ["PATCH", `/v1/streams/${s.id}`],
      ["DELETE", `/v1/streams/${s.id}`],
      ["POST", `/v1/streams/${s.id}/key`],
      ["GET", `/v1/streams/${s.id}/ingest`],
    ];
    for (const [m, p] of routes) {
      const none = await c.api(m, p, {
        key: null,
        body: m === "GET" || m === "DELETE" ? undefined : { name: "x" },
      });
      expect(none.status).toBe(401);
      expect(none.body.error.code).toBe("unauthorized");
      const wrong = await c.api(m, p, {
        key: "dk_not_a_real_key",
        body: m === "GET" || m === "DELETE" ? undefined : { name: "x" },
      });
      expect(wrong.status).toBe(401);
    }
    // The node credential is not an API key.
    expect((await c.api("GET", "/v1/streams", { key: "node-credential-0123456789" })).status).toBe(401);
    expect((await c.api("GET", `/v1/streams/${s.id}`)).status).toBe(200);
  });

  test("stream keys and passphrases never reach the logs", async () => {
    const s = (await c.api("POST", "/v1/streams", { body: { name: "secret" } })).body;
    await c.api("POST", "/v1/ingest/authorize", {
      key: "node-credential-0123456789",
      body: { streamKey: `${s.streamKey}x`, nodeId: "n9", protocol: "rtmp" },
    });
    await c.api("POST", "/v1/ingest/authorize", {
      key: "node-credential-0123456789",
      body: { streamKey: s.streamKey, nodeId: "n9", protocol: "srt" },
    });
    const r = await c.api("POST", `/v1/streams/${s.id}/key`);
    const logs = c.logs();
    expect(logs).toContain(s.id);
    expect(logs).toContain("ingest rejected");
    for (const secret of [s.streamKey, s.srtPassphrase, r.body.streamKey, r.body.srtPassphrase]) {
      expect(logs).not.toContain(secret);
    }
    expect(logs).not.toContain("dk_test_admin_key");
  });
});
