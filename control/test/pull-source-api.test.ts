/** Issue 9 item 3 at the API: pull sources refused by scheme and destination; nothing changes. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { streams } from "../src/db/schema.ts";
import { startControl, type TestControl } from "./helpers/control.ts";

let c: TestControl;
let dev: TestControl;
beforeAll(async () => {
  c = await startControl();
  dev = await startControl({ env: { PULL_ALLOW_PRIVATE: "1" } });
});
afterAll(async () => {
  await c.stop();
  await dev.stop();
});

const rows = async (t: TestControl) => (await t.control.db.select({ id: streams.id }).from(streams)).length;

describe("pull sources at the API", () => {
  const inside = [
    "rtsp://127.0.0.1:554/cam",
    "rtmp://localhost/live/x",
    "http://169.254.169.254/latest/meta-data/iam/",
    "https://10.0.0.7/live.m3u8",
    "srt://192.168.1.20:9000",
    "rtsp://[::1]/cam",
    "rtsp://[fd00::5]/cam",
    "rtmp://0.0.0.0/live/x",
  ];

  test("create: inside destinations get 422 source_not_allowed with the reason; no row written", async () => {
    const before = await rows(c);
    for (const source of inside) {
      const r = await c.api("POST", "/v1/streams", { body: { name: "ssrf", source } });
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe("source_not_allowed");
      expect(r.body.error.message).toMatch(/address/);
      expect(r.body.error.details.problems[0].path).toBe("/source");
    }
    expect(
      (await c.api("POST", "/v1/streams", { body: { name: "x", source: "file:///etc/passwd" } })).status,
    ).toBe(422);
    expect(await rows(c)).toBe(before);
    expect(c.logs()).toContain("pull source refused");
  });

  test("patch: refused and the stream is unchanged", async () => {
    const s = (
      await c.api("POST", "/v1/streams", { body: { name: "cam", source: "rtsp://203.0.113.5/cam" } })
    ).body;
    expect(s.source).toBe("rtsp://203.0.113.5/cam");
    for (const source of inside) {
      const r = await c.api("PATCH", `/v1/streams/${s.id}`, { body: { source, name: "changed" } });
      expect(r.status).toBe(422);
    }
    const after = (await c.api("GET", `/v1/streams/${s.id}`)).body;
    expect(after).toMatchObject({ name: "cam", source: "rtsp://203.0.113.5/cam", updatedAt: s.updatedAt });
  });

  test("PULL_ALLOW_PRIVATE=1 opens loopback and private, never the metadata address", async () => {
    expect(
      (await dev.api("POST", "/v1/streams", { body: { name: "a", source: "rtsp://127.0.0.1/cam" } })).status,
    ).toBe(201);
    expect(
      (await dev.api("POST", "/v1/streams", { body: { name: "b", source: "srt://10.1.2.3:9000" } })).status,
    ).toBe(201);
    const meta = await dev.api("POST", "/v1/streams", {
      body: { name: "m", source: "http://169.254.169.254/" },
    });
    expect(meta.status).toBe(422);
    expect(meta.body.error.message).toContain("metadata");
  });
});
