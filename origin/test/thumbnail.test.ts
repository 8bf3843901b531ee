/**
 * Live thumbnails (ADR 0093) end to end with real binaries: a real ffmpeg publisher pushes RTMP to
 * the embedded server, the ffmpeg back end's own command transcodes it into a run folder of the
 * stream (as the supervisor lays it out), and the origin's real HTTP server answers
 * /live/{id}/thumbnail.jpg: as written, resized (ffprobe checks every JPEG), refused (400/404/503),
 * signed (private). One running job serves every live assertion.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, generatePlaybackKeyPair, type ProfileSpec, signPlaybackToken } from "@dionysia/shared";
import { waitFor } from "@dionysia/shared/testkit";
import { createOriginHttp, type OriginHttp } from "../src/http/index.ts";
import { PlaybackGuard, privateCacheControl } from "../src/http/signed.ts";
import { parseThumbnailQuery, scaleFilter, thumbnailStreamId } from "../src/http/thumbnail.ts";
import { createOriginMetrics } from "../src/metrics/index.ts";
import { FfmpegBackend } from "../src/transcoder/ffmpeg/index.ts";
import { type RunningTranscoder, runTranscoder } from "../src/transcoder/process.ts";
import { THUMBNAIL_FILE } from "../src/transcoder/thumbnail.ts";
import type { OutputLayout, TranscodeJob } from "../src/transcoder/types.ts";
import { ffprobeStreams } from "./helpers/ffprobe.ts";
import { LiveSource } from "./helpers/transcode-run.ts";

const logger = createLogger({ service: "thumbnail-test", level: process.env.TEST_LOG ?? "silent" });
const INTERVAL = 1;

describe("thumbnail query and paths (pure)", () => {
  test("width/height: integers 16..1920, each once; other parameters pass", () => {
    expect(parseThumbnailQuery("")).toEqual({ ok: true, size: {} });
    expect(parseThumbnailQuery("?width=320")).toEqual({ ok: true, size: { width: 320 } });
    expect(parseThumbnailQuery("?token=abc&height=16&width=1920")).toEqual({
      ok: true,
      size: { width: 1920, height: 16 },
    });
    for (const bad of [
      "width=0",
      "width=99999",
      "width=abc",
      "width=1.5",
      "width=-5",
      "width=",
      "width=015",
      "width=1e3",
      "height=15",
      "height=1921",
      "width=320&width=640",
    ]) {
      const r = parseThumbnailQuery(`?${bad}`);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/width|height/);
    }
    expect(scaleFilter({ width: 320 })).toBe("scale=320:-2");
    expect(scaleFilter({ height: 90 })).toBe("scale=-2:90");
    expect(scaleFilter({ width: 100, height: 50 })).toBe("scale=100:50");
  });

  test("only /live/{id}/thumbnail.jpg is the thumbnail; signed answers turn private, lifetime kept", () => {
    expect(thumbnailStreamId("abc/thumbnail.jpg")).toBe("abc");
    expect(thumbnailStreamId("abc/run-1/thumbnail.jpg")).toBeUndefined();
    expect(thumbnailStreamId("../thumbnail.jpg")).toBeUndefined();
    expect(thumbnailStreamId("/thumbnail.jpg")).toBeUndefined();
    expect(thumbnailStreamId("abc/thumbnail.jpg.tmp")).toBeUndefined();
    expect(privateCacheControl("public, max-age=5")).toBe("private, max-age=5");
    expect(privateCacheControl("public, max-age=31536000, immutable")).toBe(
      "private, max-age=31536000, immutable",
    );
    expect(privateCacheControl("no-cache")).toBe("private, no-cache");
  });
});

describe("live thumbnail from the running transcoder", () => {
  const profile: ProfileSpec = {
    name: "thumb",
    renditions: [
      {
        name: "180p",
        codec: "h264",
        width: 320,
        height: 180,
        fps: 30,
        bitrateKbps: 300,
        preset: "ultrafast",
      },
    ],
    audio: { codec: "aac", bitrateKbps: 64 },
    segmentDuration: 1,
    windowSize: 6,
    formats: ["hls"],
    container: "fmp4",
  };
  const backend = new FfmpegBackend({ thumbnail: { intervalSec: INTERVAL } });
  const live = new LiveSource();
  const metrics = createOriginMetrics();
  let dir: string;
  let http: OriginHttp;
  let proc: RunningTranscoder;
  let stopPub: () => void;
  let layout: OutputLayout;
  let job: TranscodeJob;
  let token: string;
  const id = "thumb1";
  const thumbPath = () => join(job.outDir, layout.thumbnail!.file);
  const get = (path: string, init?: RequestInit) => fetch(`${http.url}${path}`, init);

  async function probeJpeg(bytes: ArrayBuffer | Uint8Array, name: string) {
    const f = join(dir, `${name}.jpg`);
    writeFileSync(f, new Uint8Array(bytes));
    const [s] = await ffprobeStreams(f);
    return s!;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "origin-thumbnail-"));
    await live.start();
    const pub = await live.push(profile, { seconds: 60, size: "640x360" });
    stopPub = pub.stop;
    // Like the supervisor: the process writes into a run folder below the stream's.
    job = {
      streamId: id,
      profile,
      inputUrl: pub.inputUrl,
      outDir: join(dir, "live", id, "run-r1"),
      runId: "r1",
    };
    layout = backend.layout(job);
    for (const d of layout.dirs) mkdirSync(join(job.outDir, d), { recursive: true });
    proc = runTranscoder(backend.buildCommand(job), { secret: pub.inputUrl, logger });
    // A stream that exists but has no thumbnail (audio-only, passthrough, not yet written).
    mkdirSync(join(dir, "live", "nothumb"), { recursive: true });
    const key = { ...(await generatePlaybackKeyPair("ES256")), kid: "k1" };
    const guard = new PlaybackGuard(logger);
    guard.setDesired([{ id: "sig1", playbackPolicy: "signed" }]);
    await guard.onKeysMessage(
      new TextEncoder().encode(
        JSON.stringify({ keys: [{ kid: key.kid, alg: key.alg, jwk: key.publicJwk }], ts: 1 }),
      ),
    );
    token = await signPlaybackToken(key, { sub: "sig1", exp: Math.floor(Date.now() / 1000) + 600 });
    http = createOriginHttp({
      dataDir: dir,
      logger,
      metrics,
      hostname: "127.0.0.1",
      port: 0,
      playback: guard,
      thumbnails: { intervalSec: INTERVAL, maxResizes: 2 },
    });
  }, 60_000);

  afterAll(async () => {
    stopPub?.();
    await proc?.stop(1000);
    await http?.stop();
    await live.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("thumbnail.jpg appears within seconds: mjpeg, the top rung's width, the source's aspect", async () => {
    expect(layout.thumbnail).toEqual({ file: THUMBNAIL_FILE, intervalSec: INTERVAL, width: 320 });
    await waitFor("thumbnail written", () => statSync(thumbPath(), { throwIfNoEntry: false }), 15_000);
    const s = await probeJpeg(readFileSync(thumbPath()), "first");
    expect([s.codec_name, s.width, s.height]).toEqual(["mjpeg", 320, 180]);
  }, 30_000);

  test("refreshed by the same process: a new file (mtime and bytes) after the interval", async () => {
    await waitFor("thumbnail written", () => statSync(thumbPath(), { throwIfNoEntry: false }), 15_000);
    const before = { mtime: statSync(thumbPath()).mtimeMs, bytes: readFileSync(thumbPath()) };
    const after = await waitFor(
      "a newer thumbnail",
      () => {
        const st = statSync(thumbPath(), { throwIfNoEntry: false });
        return st && st.mtimeMs > before.mtime
          ? { mtime: st.mtimeMs, bytes: readFileSync(thumbPath()) }
          : undefined;
      },
      (INTERVAL + 5) * 1000,
    );
    // testsrc2 moves (and its clock ticks): another frame is other bytes.
    expect(after.bytes.equals(before.bytes)).toBe(false);
    expect(proc.pid).toBeDefined();
  }, 30_000);

  test("GET: the JPEG as written, image/jpeg, max-age = interval, validators; HEAD: no body", async () => {
    await waitFor("thumbnail written", () => statSync(thumbPath(), { throwIfNoEntry: false }), 15_000);
    const r = await get(`/live/${id}/thumbnail.jpg`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("image/jpeg");
    expect(r.headers.get("cache-control")).toBe(`public, max-age=${INTERVAL}`);
    expect(r.headers.get("access-control-allow-origin")).toBe("*");
    expect(r.headers.get("last-modified")).toBeTruthy();
    const etag = r.headers.get("etag")!;
    expect(etag).toMatch(/^"[0-9a-z]+-[0-9a-z]+"$/);
    const s = await probeJpeg(await r.arrayBuffer(), "get");
    expect([s.codec_name, s.width, s.height]).toEqual(["mjpeg", 320, 180]);
    const head = await get(`/live/${id}/thumbnail.jpg`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toBe("image/jpeg");
    expect(Number(head.headers.get("content-length"))).toBeGreaterThan(1000);
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  }, 30_000);

  test("?width / ?height resize: one side keeps the aspect, both give exactly that size", async () => {
    await waitFor("thumbnail written", () => statSync(thumbPath(), { throwIfNoEntry: false }), 15_000);
    const cases: [string, number, number][] = [
      ["width=160", 160, 90],
      ["height=90", 160, 90],
      ["width=100&height=50", 100, 50],
      ["width=640", 640, 360],
    ];
    for (const [q, w, h] of cases) {
      const r = await get(`/live/${id}/thumbnail.jpg?${q}`);
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe("image/jpeg");
      expect(r.headers.get("cache-control")).toBe(`public, max-age=${INTERVAL}`);
      const s = await probeJpeg(await r.arrayBuffer(), `resized-${w}x${h}`);
      expect([s.codec_name, s.width, s.height]).toEqual(["mjpeg", w, h]);
    }
    const head = await get(`/live/${id}/thumbnail.jpg?width=100&height=50`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get("content-length"))).toBeGreaterThan(100);
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  }, 30_000);

  test("bad queries: 400 JSON saying why; unknown stream or none yet: 404 JSON saying why", async () => {
    for (const q of [
      "width=0",
      "width=99999",
      "width=abc",
      "width=1.5",
      "width=-1",
      "width=1&width=2",
      "height=7",
    ]) {
      const r = await get(`/live/${id}/thumbnail.jpg?${q}`);
      expect(r.status).toBe(400);
      expect(r.headers.get("content-type")).toContain("application/json");
      expect(r.headers.get("cache-control")).toBe("no-store");
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("bad_query");
      expect(body.error.message).toMatch(/width|height/);
    }
    const unknown = await get("/live/nosuch/thumbnail.jpg");
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("not_live");
    const none = await get("/live/nothumb/thumbnail.jpg?width=320");
    expect(none.status).toBe(404);
    const why = (await none.json()) as { error: { code: string; message: string } };
    expect(why.error.code).toBe("no_thumbnail");
    expect(why.error.message).toMatch(/passthrough/);
    // The run folder's own path and the encoder's temporary file are not served.
    expect((await get(`/live/${id}/run-r1/thumbnail.jpg`)).status).toBe(404);
  }, 30_000);

  test("a still frame: resized once per size (cached), 304 on its ETag, 503 past the resize slots", async () => {
    await waitFor("thumbnail written", () => statSync(thumbPath(), { throwIfNoEntry: false }), 15_000);
    // A frame that does not change under the test (the live one is replaced every second).
    mkdirSync(join(dir, "live", "still"), { recursive: true });
    copyFileSync(thumbPath(), join(dir, "live", "still", THUMBNAIL_FILE));
    const c = metrics.http.thumbnails;
    const resized0 = c.resized;
    const a = await get("/live/still/thumbnail.jpg?width=200");
    const b = await get("/live/still/thumbnail.jpg?width=200");
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(Buffer.from(await a.arrayBuffer()).equals(Buffer.from(await b.arrayBuffer()))).toBe(true);
    expect(c.resized - resized0).toBe(1);
    const etag = b.headers.get("etag")!;
    const cached = await get("/live/still/thumbnail.jpg?width=200", { headers: { "If-None-Match": etag } });
    expect(cached.status).toBe(304);
    // Eight new sizes at once, two slots: some wait for nobody and are told to come back.
    const sizes = [40, 48, 56, 64, 72, 80, 88, 96];
    const rs = await Promise.all(sizes.map((w) => get(`/live/still/thumbnail.jpg?width=${w}`)));
    const busy = rs.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    expect(rs.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(2);
    expect(rs.every((r) => r.status === 200 || r.status === 503)).toBe(true);
    expect(busy[0]!.headers.get("retry-after")).toBe("1");
    expect(c.busy).toBeGreaterThanOrEqual(busy.length);
    for (const r of rs) await r.arrayBuffer();
    const text = await (await get("/metrics")).text();
    expect(text).toMatch(/dionysia_origin_thumbnails_total\{kind="served"\} [1-9]/);
    expect(text).toMatch(/dionysia_origin_thumbnails_total\{kind="resized"\} [1-9]/);
    expect(text).toMatch(/dionysia_origin_thumbnails_total\{kind="busy"\} [1-9]/);
  }, 30_000);

  test("a signed stream: 401 without a token; with one, the same JPEG made private", async () => {
    await waitFor("thumbnail written", () => statSync(thumbPath(), { throwIfNoEntry: false }), 15_000);
    mkdirSync(join(dir, "live", "sig1"), { recursive: true });
    copyFileSync(thumbPath(), join(dir, "live", "sig1", THUMBNAIL_FILE));
    expect((await get("/live/sig1/thumbnail.jpg")).status).toBe(401);
    const r = await get(`/live/sig1/thumbnail.jpg?token=${token}&width=160`);
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe(`private, max-age=${INTERVAL}`);
    const s = await probeJpeg(await r.arrayBuffer(), "signed");
    expect([s.codec_name, s.width, s.height]).toEqual(["mjpeg", 160, 90]);
  }, 30_000);
});
