import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@dionysia/shared";
import { createOriginHttp, type OriginHttp } from "../src/http/index.ts";
import { createOriginMetrics } from "../src/metrics/index.ts";

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
    expect(r.headers.get("content-type")).toBe("video/iso.segment");
    expect(r.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect((await r.arrayBuffer()).byteLength).toBe(0);
    const hr = await get("/live/s1/720p/seg-r1-00001.m4s", {
      method: "HEAD",
      headers: { Range: "bytes=0-9" },
    });
    expect(hr.status).toBe(206);
    expect(hr.headers.get("content-length")).toBe("10");
    expect((await hr.arrayBuffer()).byteLength).toBe(0);
  });

  test("Last-Modified is the file's mtime; Content-Length the body's", async () => {
    const r = await get("/live/s1/720p/seg-r1-00001.m4s");
    const mtime = statSync(join(dir, "live/s1/720p/seg-r1-00001.m4s")).mtimeMs;
    expect(r.headers.get("last-modified")).toBe(new Date(Math.floor(mtime / 1000) * 1000).toUTCString());
    expect(r.headers.get("content-length")).toBe("1000");
    expect(r.headers.get("accept-ranges")).toBe("bytes");
    await r.arrayBuffer();
  });

  test("Range: 206 with the right bytes, 416 when unsatisfiable", async () => {
    const r = await get("/live/s1/720p/seg-r1-00001.m4s", { headers: { Range: "bytes=10-19" } });
    expect(r.status).toBe(206);
    expect(r.headers.get("content-range")).toBe("bytes 10-19/1000");
    expect(new Uint8Array(await r.arrayBuffer())).toEqual(seg.slice(10, 20));
    const bad = await get("/live/s1/720p/seg-r1-00001.m4s", { headers: { Range: "bytes=5000-" } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get("content-range")).toBe("bytes */1000");
    // Manifests go out from memory: the same Range rules apply.
    const m = await get("/live/s1/master.m3u8", { headers: { Range: "bytes=1-3" } });
    expect(m.status).toBe(206);
    expect(m.headers.get("content-range")).toBe("bytes 1-3/8");
    expect(m.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
    expect(await m.text()).toBe("EXT");
    expect((await get("/live/s1/master.m3u8", { headers: { Range: "bytes=8-" } })).status).toBe(416);
  });

  test("a manifest over the in-memory limit is still served, as a file", async () => {
    const big = "#EXTM3U\n".padEnd(1_200_000, "#");
    writeFileSync(join(dir, "live/s1/big.mpd"), big);
    const r = await get("/live/s1/big.mpd");
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("public, max-age=1");
    expect((await r.text()).length).toBe(big.length);
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

  test("a symlinked directory inside live/ is refused", async () => {
    mkdirSync(join(dir, "outside-dir"), { recursive: true });
    writeFileSync(join(dir, "outside-dir/seg-r1-00001.m4s"), "outside");
    writeFileSync(join(dir, "outside-dir/index.m3u8"), "outside");
    symlinkSync(join(dir, "outside-dir"), join(dir, "live/s1/evil"));
    for (const p of ["/live/s1/evil/seg-r1-00001.m4s", "/live/s1/evil/index.m3u8"]) {
      const r = await get(p);
      expect(r.status).toBe(404);
      expect(await r.text()).not.toContain("outside");
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

  test("/time: the host's UTC clock with milliseconds, never cached, readable cross-origin", async () => {
    const before = Date.now();
    const res = await get("/time");
    const after = Date.now();
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const body = await res.text();
    expect(body).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const t = Date.parse(body);
    expect(t >= before && t <= after).toBe(true);
    expect(await (await get("/time", { method: "HEAD" })).text()).toBe("");
  });

  test("counters: bytes by kind and requests by method/status, on /metrics and for egress", async () => {
    const before = metrics.egressBytes();
    const seg0 = metrics.http.bytes.segment;
    await (await get("/live/s1/720p/seg-r1-00001.m4s")).arrayBuffer();
    await (await get("/live/s1/720p/seg-r1-00001.m4s", { headers: { Range: "bytes=0-99" } })).arrayBuffer();
    await (await get("/live/s1/master.m3u8", { method: "HEAD" })).arrayBuffer();
    await (await get("/live/s1/nope.m3u8")).text();
    expect(metrics.http.bytes.segment - seg0).toBe(1100);
    expect(metrics.egressBytes() - before).toBe(1100);
    const m = await (await get("/metrics")).text();
    const value = (re: RegExp) => Number(re.exec(m)?.[1]);
    expect(value(/dionysia_origin_bytes_served_total\{kind="segment"\} (\d+)/)).toBe(
      metrics.http.bytes.segment,
    );
    expect(value(/dionysia_origin_bytes_served_total\{kind="manifest"\} (\d+)/)).toBe(
      metrics.http.bytes.manifest,
    );
    expect(
      value(/dionysia_origin_http_requests_total\{method="GET",status="206"\} (\d+)/),
    ).toBeGreaterThanOrEqual(2);
    expect(
      value(/dionysia_origin_http_requests_total\{method="HEAD",status="200"\} (\d+)/),
    ).toBeGreaterThanOrEqual(2);
    expect(
      value(/dionysia_origin_http_requests_total\{method="GET",status="404"\} (\d+)/),
    ).toBeGreaterThanOrEqual(1);
  });
});

/** The production snippet (ADR 0026): nginx serves /live/ from disk with the origin's headers. */
