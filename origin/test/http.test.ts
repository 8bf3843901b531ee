import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@dionysia/shared";
import { createOriginHttp, type OriginHttp } from "../src/http/index.ts";
import { liveFiles } from "../src/http/live-file.ts";
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
  test("percent-encoded letters are decoded; the plain-path shortcut agrees with the slow route", () => {
    expect(resolveLivePath(root, "abc/%41.m3u8")).toEqual({
      ok: true,
      path: "/data/live/abc/A.m3u8",
      ext: "m3u8",
    });
    expect(resolveLivePath("/data/live/", "abc/x.M4S")).toEqual({
      ok: true,
      path: "/data/live/abc/x.M4S",
      ext: "m4s",
    });
    expect(resolveLivePath(root, "abc/noext")).toEqual({ ok: true, path: "/data/live/abc/noext", ext: "" });
    expect(resolveLivePath(root, "a.b/c")).toEqual({ ok: true, path: "/data/live/a.b/c", ext: "" });
    expect(resolveLivePath(root, "abc/")).toEqual({ ok: false, status: 400 });
    expect(resolveLivePath(root, "abc/x.m3u8/")).toEqual({ ok: false, status: 400 });
    expect(resolveLivePath(root, "abc/./x.m3u8")).toEqual({ ok: false, status: 400 });
    expect(resolveLivePath(root, `abc/${"a".repeat(129)}.m4s`)).toEqual({ ok: false, status: 400 });
  });
  test("ranges", () => {
    expect(parseRange("bytes=0-9", 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange("bytes=90-", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-10", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=100-", 100)).toBeNull();
    expect(parseRange(null, 100)).toBeUndefined();
  });
});

describe("live file lookup: one lstat, no symlinks below the root", () => {
  let top: string;
  beforeAll(() => {
    top = mkdtempSync(join(tmpdir(), "origin-livefiles-"));
    // The root itself may be a symlink (e.g. live/ on tmpfs): that is the operator's choice.
    mkdirSync(join(top, "real-live/s1/720p"), { recursive: true });
    mkdirSync(join(top, "elsewhere"), { recursive: true });
    writeFileSync(join(top, "real-live/s1/720p/a.m4s"), "abc");
    writeFileSync(join(top, "elsewhere/x.m4s"), "outside");
    symlinkSync(join(top, "real-live"), join(top, "live"));
    symlinkSync(join(top, "real-live/s1/720p/a.m4s"), join(top, "real-live/s1/720p/inside-link.m4s"));
    symlinkSync(join(top, "elsewhere"), join(top, "real-live/s1/dirlink"));
  });
  afterAll(() => rmSync(top, { recursive: true, force: true }));

  test("a regular file under a symlinked root is found with its size and mtime", () => {
    const f = liveFiles(join(top, "live")).find(join(top, "live/s1/720p/a.m4s"));
    expect(f?.size).toBe(3);
    expect(f?.mtimeMs).toBe(statSync(join(top, "real-live/s1/720p/a.m4s")).mtimeMs);
  });
  test("symlinks below the root are refused, even ones that stay inside", () => {
    const lf = liveFiles(join(top, "live"));
    expect(lf.find(join(top, "live/s1/720p/inside-link.m4s"))).toBeUndefined();
    expect(lf.find(join(top, "live/s1/dirlink/x.m4s"))).toBeUndefined();
    expect(lf.find(join(top, "live/s1/720p"))).toBeUndefined(); // a directory is not a file
    expect(lf.find(join(top, "live/s1/720p/missing.m4s"))).toBeUndefined();
  });
  test("a verified directory is re-checked after its TTL", () => {
    let t = 0;
    const lf = liveFiles(join(top, "live"), { dirTtlMs: 1000, now: () => t });
    mkdirSync(join(top, "real-live/s2/r"), { recursive: true });
    writeFileSync(join(top, "real-live/s2/r/x.m4s"), "in");
    expect(lf.find(join(top, "live/s2/r/x.m4s"))?.size).toBe(2);
    // The rendition directory is swapped for a symlink to a directory with the same file name.
    renameSync(join(top, "real-live/s2/r"), join(top, "real-live/s2/r-old"));
    symlinkSync(join(top, "elsewhere"), join(top, "real-live/s2/r"));
    writeFileSync(join(top, "elsewhere/x.m4s"), "outside");
    t = 1001;
    expect(lf.find(join(top, "live/s2/r/x.m4s"))).toBeUndefined();
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
const NGINX = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"].find(
  (p) => Bun.spawnSync([p, "-v"], { stderr: "ignore" }).exitCode === 0,
);
if (!NGINX) console.warn("nginx not installed: skipping the nginx-live.conf.j2 test (apt-get install nginx)");

/** The template uses plain `{{ var }}` / `{{ var | default(x) }}` substitutions only. */
function renderJinja(template: string, vars: Record<string, string | number>): string {
  const out = template.replace(
    /\{\{\s*(\w+)\s*(?:\|\s*default\(([^)]*)\)\s*)?\}\}/g,
    (_, name: string, dflt?: string) => String(vars[name] ?? dflt ?? `{{UNSET ${name}}}`),
  );
  if (/\{\{|\{%/.test(out)) throw new Error(`template needs more than plain substitutions:\n${out}`);
  return out;
}

describe.skipIf(!NGINX)("ansible nginx-live.conf.j2 serves /live/ like the origin", () => {
  let top: string;
  let origin: OriginHttp;
  let nginx: ReturnType<typeof Bun.spawn>;
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
    const port = await new Promise<number>((res) => {
      const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
      const p = s.port;
      s.stop(true);
      res(p);
    });
    const conf = renderJinja(
      readFileSync(join(import.meta.dir, "../../ansible/roles/origin/templates/nginx-live.conf.j2"), "utf8"),
      { dionysia_root: top, origin_nginx_port: `127.0.0.1:${port}`, origin_port: origin.port },
    );
    const ngx = join(top, "nginx");
    for (const d of ["body", "proxy", "fastcgi", "uwsgi", "scgi"])
      mkdirSync(join(ngx, d), { recursive: true });
    writeFileSync(join(ngx, "live.conf"), conf);
    writeFileSync(
      join(ngx, "nginx.conf"),
      `worker_processes 1;
daemon off;
pid ${ngx}/nginx.pid;
error_log ${ngx}/error.log warn;
events { worker_connections 64; }
http {
  client_body_temp_path ${ngx}/body;
  proxy_temp_path ${ngx}/proxy;
  fastcgi_temp_path ${ngx}/fastcgi;
  uwsgi_temp_path ${ngx}/uwsgi;
  scgi_temp_path ${ngx}/scgi;
  include ${ngx}/live.conf;
}
`,
    );
    const check = Bun.spawnSync([NGINX!, "-t", "-p", ngx, "-c", join(ngx, "nginx.conf")]);
    if (check.exitCode !== 0) throw new Error(`nginx -t failed:\n${check.stderr.toString()}`);
    nginx = Bun.spawn([NGINX!, "-p", ngx, "-c", join(ngx, "nginx.conf")], {
      stdout: "ignore",
      stderr: "inherit",
    });
    base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 10_000;
    while (!(await fetch(`${base}/health`).catch(() => null))?.ok) {
      if (Date.now() > deadline) throw new Error("nginx did not come up");
      await Bun.sleep(50);
    }
  });
  afterAll(async () => {
    if (nginx) {
      nginx.kill("SIGQUIT");
      const t = setTimeout(() => nginx.kill("SIGKILL"), 5000);
      await nginx.exited;
      clearTimeout(t);
    }
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
