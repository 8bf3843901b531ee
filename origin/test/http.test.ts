import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@dionysia/shared";
import { createOriginHttp, type OriginHttp } from "../src/http/index.ts";
import { parseRange, resolveLivePath } from "../src/http/paths.ts";
import { createOriginMetrics } from "../src/metrics/index.ts";

describe("path safety (pure)", () => {
  const root = "/data/live";
  test("accepts normal paths", () => {
    expect(resolveLivePath(root, "abc/720p/index.m3u8")).toEqual({
      ok: true,
      path: "/data/live/abc/720p/index.m3u8",
      ext: "m3u8",
    });
  });
  test.each([
    ["../etc/passwd", 400],
    ["abc/../../etc/passwd", 400],
    ["abc/%2e%2e/%2e%2e/etc/passwd", 400],
    ["abc%2f..%2f..%2fetc/passwd", 400],
    ["abc/..%5c..%5cwin.ini", 400],
    ["abc/seg%00.m4s", 400],
    ["/etc/passwd", 400],
    ["abc//x.m4s", 400],
    ["abc/.hidden", 400],
    ["abc/%E0%A4%A", 400],
    ["abc", 404],
  ])("refuses %s", (p, status) => {
    expect(resolveLivePath(root, p)).toEqual({ ok: false, status: status as 400 | 404 });
  });
  test("ranges", () => {
    expect(parseRange("bytes=0-9", 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange("bytes=90-", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-10", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=100-", 100)).toBeNull();
    expect(parseRange(null, 100)).toBeUndefined();
  });
});

describe("origin HTTP server", () => {
  let dir: string;
  let http: OriginHttp;
  const metrics = createOriginMetrics();
  const seg = new Uint8Array(1000).map((_, i) => i % 256);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "origin-http-"));
    mkdirSync(join(dir, "live/s1/720p"), { recursive: true });
    writeFileSync(join(dir, "live/s1/master.m3u8"), "#EXTM3U\n");
    writeFileSync(join(dir, "live/s1/manifest.mpd"), "<MPD/>");
    writeFileSync(join(dir, "live/s1/720p/seg-r1-00001.m4s"), seg);
    writeFileSync(join(dir, "live/s1/720p/init-r1.mp4"), seg);
    writeFileSync(join(dir, "live/s1/720p/seg-00001.ts"), seg);
    writeFileSync(join(dir, "secret.m3u8"), "outside live");
    writeFileSync(join(tmpdir(), "origin-http-outside.m3u8"), "outside data dir");
    symlinkSync(join(tmpdir(), "origin-http-outside.m3u8"), join(dir, "live/s1/link.m3u8"));
    http = createOriginHttp({
      dataDir: dir,
      logger: createLogger({ service: "test", level: "silent" }),
      metrics,
      hostname: "127.0.0.1",
      port: 0,
      extraRoutes: { "/internal/mediamtx/auth": () => new Response("auth ok") },
    });
  });
  afterAll(async () => {
    await http.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (path: string, init?: RequestInit) => fetch(`${http.url}${path}`, init);

  test("playlists: short max-age, HLS content type, CORS", async () => {
    const r = await get("/live/s1/master.m3u8");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
    expect(r.headers.get("cache-control")).toBe("public, max-age=1");
    expect(r.headers.get("access-control-allow-origin")).toBe("*");
    expect(await r.text()).toBe("#EXTM3U\n");
    const d = await get("/live/s1/manifest.mpd");
    expect(d.headers.get("content-type")).toBe("application/dash+xml");
    expect(d.headers.get("cache-control")).toBe("public, max-age=1");
  });

  test("segments: immutable, content types for fMP4, init and TS", async () => {
    const r = await get("/live/s1/720p/seg-r1-00001.m4s");
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(r.headers.get("content-type")).toBe("video/iso.segment");
    expect(new Uint8Array(await r.arrayBuffer())).toEqual(seg);
    expect((await get("/live/s1/720p/init-r1.mp4")).headers.get("content-type")).toBe("video/mp4");
    expect((await get("/live/s1/720p/seg-00001.ts")).headers.get("content-type")).toBe("video/mp2t");
  });

  test("HEAD has headers and no body", async () => {
    const r = await get("/live/s1/720p/seg-r1-00001.m4s", { method: "HEAD" });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-length")).toBe("1000");
    expect((await r.arrayBuffer()).byteLength).toBe(0);
  });

  test("Range: 206 with the right bytes, 416 when unsatisfiable", async () => {
    const r = await get("/live/s1/720p/seg-r1-00001.m4s", { headers: { Range: "bytes=10-19" } });
    expect(r.status).toBe(206);
    expect(r.headers.get("content-range")).toBe("bytes 10-19/1000");
    expect(new Uint8Array(await r.arrayBuffer())).toEqual(seg.slice(10, 20));
    const bad = await get("/live/s1/720p/seg-r1-00001.m4s", { headers: { Range: "bytes=5000-" } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get("content-range")).toBe("bytes */1000");
  });

  test("CORS preflight", async () => {
    const r = await get("/live/s1/master.m3u8", {
      method: "OPTIONS",
      headers: { Origin: "https://player.example", "Access-Control-Request-Method": "GET" },
    });
    expect(r.status).toBe(204);
    expect(r.headers.get("access-control-allow-methods")).toContain("GET");
    expect(r.headers.get("access-control-allow-headers")).toContain("Range");
  });

  test("traversal never leaves the data dir", async () => {
    for (const p of [
      "/live/s1/../../secret.m3u8",
      "/live/s1/%2e%2e/%2e%2e/secret.m3u8",
      "/live/s1/..%2f..%2fsecret.m3u8",
      "/live/%2fetc%2fpasswd/x.m3u8",
      "/live/s1/%00.m3u8",
      "/live/..%5c..%5csecret.m3u8",
      "/live/s1/link.m3u8",
    ]) {
      const r = await get(p);
      expect([400, 404]).toContain(r.status);
      const body = await r.text();
      expect(body).not.toContain("outside");
    }
  });

  test("404 for missing files and unknown types; 405 for POST", async () => {
    expect((await get("/live/s1/720p/seg-r1-99999.m4s")).status).toBe(404);
    expect((await get("/live/nope/master.m3u8")).status).toBe(404);
    expect((await get("/live/s1/720p/notes.txt")).status).toBe(404);
    expect((await get("/nothing")).status).toBe(404);
    expect((await get("/live/s1/master.m3u8", { method: "POST" })).status).toBe(405);
  });

  test("/health, /metrics and extra routes", async () => {
    const h = await get("/health");
    expect(h.status).toBe(200);
    expect(((await h.json()) as { status: string }).status).toBe("ok");
    expect(await (await get("/internal/mediamtx/auth", { method: "POST" })).text()).toBe("auth ok");
    const m = await (await get("/metrics")).text();
    expect(m).toContain("dionysia_origin_bytes_served_total");
    expect(m).toContain('dionysia_origin_http_requests_total{method="GET",status="200"}');
    expect(m).toContain("dionysia_origin_active_streams");
  });
});
