import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BUILTIN_PROFILES } from "@dionysia/shared";
import { startControl, type TestControl } from "./helpers/control.ts";

let c: TestControl;
beforeAll(async () => {
  c = await startControl();
});
afterAll(async () => {
  await c.stop();
});

const ladder = {
  name: "my ladder",
  renditions: [
    { name: "480p", codec: "h264", width: 854, height: 480, fps: 30, bitrateKbps: 1400, preset: "veryfast" },
    { name: "240p", codec: "h264", width: 426, height: 240, fps: 15, bitrateKbps: 300 },
  ],
  audio: { codec: "aac", bitrateKbps: 96, channels: 2 },
  segmentDuration: 2,
  formats: ["hls", "dash"],
};

describe("profiles", () => {
  test("built-ins are seeded and listed first", async () => {
    const r = await c.api("GET", "/v1/profiles");
    expect(r.status).toBe(200);
    const ids = r.body.items.map((p: { id: string }) => p.id);
    for (const id of Object.keys(BUILTIN_PROFILES)) expect(ids).toContain(id);
    const p720 = await c.api("GET", "/v1/profiles/builtin-720p");
    expect(p720.body.builtIn).toBe(true);
    expect(p720.body.renditions.map((x: { height: number }) => x.height)).toEqual([720, 480, 360]);
  });

  test("create, get, replace, delete a user profile", async () => {
    const r = await c.api("POST", "/v1/profiles", { body: ladder });
    expect(r.status).toBe(201);
    expect(r.body.id).toMatch(/^prof_/);
    expect(r.body.builtIn).toBe(false);
    expect(r.body.renditions).toHaveLength(2);
    const id = r.body.id;
    expect((await c.api("GET", `/v1/profiles/${id}`)).body.name).toBe("my ladder");
    const put = await c.api("PUT", `/v1/profiles/${id}`, {
      body: { ...ladder, name: "renamed", formats: ["hls"] },
    });
    expect(put.status).toBe(200);
    expect(put.body.name).toBe("renamed");
    expect(put.body.formats).toEqual(["hls"]);
    expect((await c.api("DELETE", `/v1/profiles/${id}`)).status).toBe(204);
    expect((await c.api("GET", `/v1/profiles/${id}`)).status).toBe(404);
    expect((await c.api("DELETE", `/v1/profiles/${id}`)).status).toBe(404);
    expect((await c.api("PUT", `/v1/profiles/${id}`, { body: ladder })).status).toBe(404);
  });

  test("semantic validation lists every problem (422)", async () => {
    const bad = {
      ...ladder,
      renditions: [
        { name: "a", codec: "h264", width: 641, height: 361, bitrateKbps: 800 },
        { name: "a", codec: "h264", width: 3840, height: 2160, bitrateKbps: 50 },
      ],
      partDuration: 0.7,
      formats: ["ll-hls"],
      container: "ts",
    };
    const r = await c.api("POST", "/v1/profiles", { body: bad });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe("invalid_profile");
    const paths = r.body.error.details.problems.map((p: { path: string }) => p.path);
    expect(paths).toContain("/renditions/0/width");
    expect(paths).toContain("/renditions/0/height");
    expect(paths).toContain("/renditions/1/name");
    expect(paths).toContain("/renditions/1/bitrateKbps");
    expect(paths).toContain("/partDuration");
    expect(paths).toContain("/container");
    const empty = await c.api("POST", "/v1/profiles", { body: { ...ladder, renditions: [], audio: null } });
    expect(empty.status).toBe(422);
  });

  test("schema validation: sizes, fps, unknown fields, malformed JSON", async () => {
    const zero = {
      ...ladder,
      renditions: [{ name: "z", codec: "h264", width: 0, height: 0, bitrateKbps: 500 }],
    };
    expect((await c.api("POST", "/v1/profiles", { body: zero })).status).toBe(422);
    const fps = {
      ...ladder,
      renditions: [{ name: "z", codec: "h264", width: 640, height: 360, fps: 240, bitrateKbps: 500 }],
    };
    expect((await c.api("POST", "/v1/profiles", { body: fps })).status).toBe(422);
    const extra = await c.api("POST", "/v1/profiles", { body: { ...ladder, gpu: true } });
    expect(extra.status).toBe(422);
    expect(extra.body.error.code).toBe("validation_failed");
    const nestedExtra = { ...ladder, audio: { codec: "aac", bitrateKbps: 96, volume: 11 } };
    expect((await c.api("POST", "/v1/profiles", { body: nestedExtra })).status).toBe(422);
    expect((await c.api("POST", "/v1/profiles", { raw: "[1,2" })).status).toBe(400);
  });

  test("built-ins are read-only (409 builtin_read_only)", async () => {
    const put = await c.api("PUT", "/v1/profiles/builtin-360p", { body: ladder });
    expect(put.status).toBe(409);
    expect(put.body.error.code).toBe("builtin_read_only");
    const del = await c.api("DELETE", "/v1/profiles/builtin-360p");
    expect(del.status).toBe(409);
    expect(del.body.error.code).toBe("builtin_read_only");
    expect((await c.api("GET", "/v1/profiles/builtin-360p")).status).toBe(200);
  });

  test("deleting a profile in use is 409; free again after the stream is gone", async () => {
    const p = (await c.api("POST", "/v1/profiles", { body: ladder })).body;
    const s = (await c.api("POST", "/v1/streams", { body: { name: "uses it", profileId: p.id } })).body;
    const updated: unknown[] = [];
    const off = c.control.events.on("stream.updated", (e) => updated.push(e));
    expect((await c.api("PUT", `/v1/profiles/${p.id}`, { body: { ...ladder, name: "v2" } })).status).toBe(
      200,
    );
    off();
    expect(updated).toEqual([{ streamId: s.id, nodeId: null }]);
    const del = await c.api("DELETE", `/v1/profiles/${p.id}`);
    expect(del.status).toBe(409);
    expect(del.body.error.code).toBe("profile_in_use");
    expect((await c.api("DELETE", `/v1/streams/${s.id}`)).status).toBe(204);
    expect((await c.api("DELETE", `/v1/profiles/${p.id}`)).status).toBe(204);
  });

  test("profiles need an API key", async () => {
    expect((await c.api("GET", "/v1/profiles", { key: null })).status).toBe(401);
    expect((await c.api("POST", "/v1/profiles", { key: "dk_wrong", body: ladder })).status).toBe(401);
  });
});
