import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@dionysia/shared";
import { freePort, requireBinary, waitFor } from "@dionysia/shared/testkit";
import { createOriginHttp, type OriginHttp } from "../src/http/index.ts";
import { createOriginMetrics } from "../src/metrics/index.ts";
import { type NginxFront, startNginxFront } from "./helpers/nginx-front.ts";

// Looked up on PATH (and sbin): spawning a missing binary would throw ENOENT and crash the suite.
const NGINX = requireBinary(
  "nginx",
  "origin/test/http-nginx.test.ts (nginx-live.conf.j2)",
  "apt-get install nginx",
);

describe.skipIf(!NGINX)("ansible nginx-live.conf.j2 serves /live/ like the origin", () => {
  let top: string;
  let origin: OriginHttp;
  let front: NginxFront | undefined;
  let base: string;
  const seg = new Uint8Array(5000).map((_, i) => (i * 7) % 256);

  beforeAll(async () => {
    top = mkdtempSync(join(tmpdir(), "origin-nginx-"));
    chmodSync(top, 0o755); // nginx workers may run as an unprivileged user
    const data = join(top, "data/origin");
    mkdirSync(join(data, "live/s1/720p"), { recursive: true });
    writeFileSync(join(data, "live/s1/720p/index.m3u8"), "#EXTM3U\n#EXT-X-VERSION:7\n");
    writeFileSync(join(data, "live/s1/manifest.mpd"), "<MPD/>");
    writeFileSync(join(data, "live/s1/720p/seg-r1-00001.m4s"), seg);
    writeFileSync(join(data, "live/s1/720p/seg-00001.ts"), seg);
    writeFileSync(join(data, "live/s1/720p/notes.txt"), "not media");
    writeFileSync(join(data, "secret.m3u8"), "outside live");
    mkdirSync(join(top, "outside"));
    writeFileSync(join(top, "outside/x.m3u8"), "outside data dir");
    symlinkSync(join(top, "outside/x.m3u8"), join(data, "live/s1/link.m3u8"));
    symlinkSync(join(top, "outside"), join(data, "live/s1/dirlink"));
    origin = createOriginHttp({
      dataDir: data,
      logger: createLogger({ service: "test", level: "silent" }),
      metrics: createOriginMetrics(),
      hostname: "127.0.0.1",
      port: 0,
    });
    front = await startNginxFront(NGINX!, top, origin.port);
    base = front.base;
  });
  afterAll(async () => {
    await front?.stop();
    await origin?.stop();
    rmSync(top, { recursive: true, force: true });
  });

  const get = (path: string, init?: RequestInit) => fetch(`${base}${path}`, init);

  test("playlists and segments: the origin's content types, cache headers and CORS", async () => {
    const p = await get("/live/s1/720p/index.m3u8");
    expect(p.status).toBe(200);
    expect(p.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
    expect(p.headers.get("cache-control")).toBe("public, max-age=1");
    expect(p.headers.get("access-control-allow-origin")).toBe("*");
    expect(p.headers.get("access-control-expose-headers")).toContain("Content-Range");
    expect(await p.text()).toBe("#EXTM3U\n#EXT-X-VERSION:7\n");
    const d = await get("/live/s1/manifest.mpd");
    expect(d.headers.get("content-type")).toBe("application/dash+xml");
    expect(d.headers.get("cache-control")).toBe("public, max-age=1");
    await d.text();
    const s = await get("/live/s1/720p/seg-r1-00001.m4s");
    expect(s.status).toBe(200);
    expect(s.headers.get("content-type")).toBe("video/iso.segment");
    expect(s.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(s.headers.get("access-control-allow-origin")).toBe("*");
    expect(new Uint8Array(await s.arrayBuffer())).toEqual(seg);
    const t = await get("/live/s1/720p/seg-00001.ts");
    expect(t.headers.get("content-type")).toBe("video/mp2t");
    await t.arrayBuffer();
  });

  test("Range, HEAD and CORS preflight", async () => {
    const r = await get("/live/s1/720p/seg-r1-00001.m4s", { headers: { Range: "bytes=10-19" } });
    expect(r.status).toBe(206);
    expect(r.headers.get("content-range")).toBe("bytes 10-19/5000");
    expect(new Uint8Array(await r.arrayBuffer())).toEqual(seg.slice(10, 20));
    const bad = await get("/live/s1/720p/seg-r1-00001.m4s", { headers: { Range: "bytes=9000-" } });
    expect(bad.status).toBe(416);
    await bad.text();
    const h = await get("/live/s1/720p/seg-r1-00001.m4s", { method: "HEAD" });
    expect(h.status).toBe(200);
    expect(h.headers.get("content-length")).toBe("5000");
    expect((await h.arrayBuffer()).byteLength).toBe(0);
    const o = await get("/live/s1/720p/index.m3u8", {
      method: "OPTIONS",
      headers: { Origin: "https://player.example", "Access-Control-Request-Method": "GET" },
    });
    expect(o.status).toBe(204);
    expect(o.headers.get("access-control-allow-methods")).toContain("GET");
    expect(o.headers.get("access-control-allow-headers")).toContain("Range");
    expect((await get("/live/s1/720p/index.m3u8", { method: "POST" })).status).toBe(405);
  });

  test("traversal, symlinks and unknown types are refused", async () => {
    for (const p of [
      "/live/s1/%2e%2e/%2e%2e/secret.m3u8",
      "/live/s1/..%2f..%2fsecret.m3u8",
      "/live/%2fetc%2fpasswd/x.m3u8",
      "/live/s1/%00.m3u8",
      "/live/..%5c..%5csecret.m3u8",
      "/live/s1/link.m3u8",
      "/live/s1/dirlink/x.m3u8",
      "/live/s1/.hidden.m3u8",
      "/live/s1/720p/notes.txt",
      "/live/s1/720p/seg-r1-99999.m4s",
    ]) {
      const r = await get(p);
      expect([400, 403, 404]).toContain(r.status);
      const body = await r.text();
      expect(body).not.toContain("outside");
      expect(body).not.toContain("not media");
    }
  });

  test("/health and everything outside /live/ go to the origin's Bun server", async () => {
    const h = await get("/health");
    expect(h.status).toBe(200);
    expect(((await h.json()) as { status: string }).status).toBe("ok");
    const m = await (await get("/metrics")).text();
    expect(m).toContain("dionysia_origin_http_requests_total");
  });
});
