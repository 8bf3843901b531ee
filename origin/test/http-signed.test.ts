/**
 * Signed playback at the origin (ADR 0060): the real HTTP server with a PlaybackGuard, real keys
 * and tokens; playlists rewritten so players carry the token; ffprobe plays real HLS and DASH
 * (made by ffmpeg) from the tokenised URL, directly and through the real router handler.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createLogger,
  generatePlaybackKeyPair,
  type PublicSigningKey,
  signPlaybackToken,
  topics,
} from "@dionysia/shared";
import { hasMosquitto, startMosquitto, waitFor } from "@dionysia/shared/testkit";
import { execa } from "execa";
import mqtt from "mqtt";
import { sampleAnnounce, sampleTelemetry } from "../../control/test/helpers/mqttFixtures.ts";
import { OriginAgent } from "../src/agent/agent.ts";
import { createOriginHttp, type OriginHttp } from "../src/http/index.ts";
import { PlaybackGuard, rewriteDash, rewriteHls } from "../src/http/signed.ts";
import { createOriginMetrics } from "../src/metrics/index.ts";
import { startSignedStack } from "./helpers/signed-stack.ts";

const hasFfmpeg = Bun.which("ffmpeg") !== null && Bun.which("ffprobe") !== null;
const nowS = () => Math.floor(Date.now() / 1000);
const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

describe("playlist rewriting (pure)", () => {
  test("HLS: URI lines and URI= attributes get the token; comments, absolute URLs untouched", () => {
    const src = [
      "#EXTM3U",
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",URI="audio/index.m3u8"',
      '#EXT-X-MAP:URI="init_0.mp4"',
      '#EXT-X-PART:DURATION=0.5,URI="part-1.0.m4s"',
      '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-1.1.m4s?x=1"',
      "#EXT-X-STREAM-INF:BANDWIDTH=1",
      "720p/index.m3u8",
      "../run-2/seg-3.m4s",
      "https://cdn.example/abs.m4s",
      "",
    ].join("\n");
    expect(rewriteHls(src, "T")).toBe(
      [
        "#EXTM3U",
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",URI="audio/index.m3u8?token=T"',
        '#EXT-X-MAP:URI="init_0.mp4?token=T"',
        '#EXT-X-PART:DURATION=0.5,URI="part-1.0.m4s?token=T"',
        '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-1.1.m4s?x=1&token=T"',
        "#EXT-X-STREAM-INF:BANDWIDTH=1",
        "720p/index.m3u8?token=T",
        "../run-2/seg-3.m4s?token=T",
        "https://cdn.example/abs.m4s",
        "",
      ].join("\n"),
    );
  });

  test("DASH: template media/initialization, SegmentURL, file BaseURL; directory BaseURL kept", () => {
    const src =
      '<MPD><BaseURL>dir/</BaseURL><SegmentTemplate initialization="init-$RepresentationID$.m4s" media="c-$Number%05d$.m4s?a=1"/>' +
      '<SegmentURL media="s1.m4s"/><BaseURL>single.mp4</BaseURL></MPD>';
    expect(rewriteDash(src, "T")).toBe(
      '<MPD><BaseURL>dir/</BaseURL><SegmentTemplate initialization="init-$RepresentationID$.m4s?token=T" media="c-$Number%05d$.m4s?a=1&amp;token=T"/>' +
        '<SegmentURL media="s1.m4s?token=T"/><BaseURL>single.mp4?token=T</BaseURL></MPD>',
    );
  });
});

describe("origin HTTP with signed streams", () => {
  let dir: string;
  let http: OriginHttp;
  let guard: PlaybackGuard;
  let key: Awaited<ReturnType<typeof generatePlaybackKeyPair>> & { kid: string };
  let token: string;
  const pub = (): PublicSigningKey => ({ kid: key.kid, alg: key.alg, jwk: key.publicJwk });
  const get = (path: string, init?: RequestInit) => fetch(`${http.url}${path}`, init);
  const seg = new Uint8Array(5000).map((_, i) => i % 251);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "origin-signed-"));
    for (const id of ["pub1", "sig1"]) {
      mkdirSync(join(dir, `live/${id}/720p`), { recursive: true });
      writeFileSync(
        join(dir, `live/${id}/master.m3u8`),
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n",
      );
      writeFileSync(
        join(dir, `live/${id}/720p/index.m3u8`),
        '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:1,\nseg-1.m4s\n',
      );
      writeFileSync(
        join(dir, `live/${id}/manifest.mpd`),
        '<MPD><SegmentTemplate media="c-$Number$.m4s"/></MPD>',
      );
      writeFileSync(join(dir, `live/${id}/720p/seg-1.m4s`), seg);
    }
    key = { ...(await generatePlaybackKeyPair("ES256")), kid: "k1" };
    guard = new PlaybackGuard(createLogger({ service: "test", level: "silent" }));
    guard.setDesired([{ id: "pub1" }, { id: "sig1", playbackPolicy: "signed" }]);
    await guard.onKeysMessage(enc({ keys: [pub()], ts: 10 }));
    token = await signPlaybackToken(key, { sub: "sig1", exp: nowS() + 600 });
    http = createOriginHttp({
      dataDir: dir,
      logger: createLogger({ service: "test", level: "silent" }),
      metrics: createOriginMetrics(),
      hostname: "127.0.0.1",
      port: 0,
      playback: guard,
    });
  });
  afterAll(async () => {
    await http?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a public stream is served exactly as before", async () => {
    const r = await get("/live/pub1/master.m3u8");
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("public, max-age=1");
    expect(await r.text()).toBe("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n");
    const s = await get("/live/pub1/720p/seg-1.m4s");
    expect(s.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
  });

  test("direct access to a signed stream: 401 without a token, 403 with a bad one (JSON, no-store)", async () => {
    for (const path of ["/live/sig1/master.m3u8", "/live/sig1/720p/seg-1.m4s", "/live/sig1/manifest.mpd"]) {
      const r = await get(path);
      expect(r.status).toBe(401);
      expect(r.headers.get("cache-control")).toBe("no-store");
      expect(r.headers.get("access-control-allow-origin")).toBe("*");
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe("token_required");
    }
    const bad = await get("/live/sig1/720p/seg-1.m4s?token=a.b.c");
    expect(bad.status).toBe(403);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("token_invalid");
    const other = await signPlaybackToken(key, { sub: "pub1", exp: nowS() + 60 });
    expect((await get(`/live/sig1/master.m3u8?token=${other}`)).status).toBe(403);
    const expired = await signPlaybackToken(key, { sub: "sig1", exp: nowS() - 60 });
    expect((await get(`/live/sig1/master.m3u8?token=${expired}`)).status).toBe(403);
  });

  test("with a token: playlists rewritten, private; segments served (Range too), private", async () => {
    const m = await get(`/live/sig1/master.m3u8?token=${token}`);
    expect(m.status).toBe(200);
    expect(m.headers.get("cache-control")).toBe("private, max-age=1");
    expect(await m.text()).toBe(`#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8?token=${token}\n`);
    const v = await get("/live/sig1/720p/index.m3u8", { headers: { authorization: `Bearer ${token}` } });
    expect(await v.text()).toBe(
      `#EXTM3U\n#EXT-X-MAP:URI="init.mp4?token=${token}"\n#EXTINF:1,\nseg-1.m4s?token=${token}\n`,
    );
    const d = await get(`/live/sig1/manifest.mpd?token=${token}`);
    expect(d.headers.get("content-type")).toBe("application/dash+xml");
    expect(await d.text()).toBe(`<MPD><SegmentTemplate media="c-$Number$.m4s?token=${token}"/></MPD>`);
    const s = await get(`/live/sig1/720p/seg-1.m4s?token=${token}`);
    expect(s.status).toBe(200);
    expect(s.headers.get("cache-control")).toBe("private, max-age=31536000, immutable");
    expect(new Uint8Array(await s.arrayBuffer())).toEqual(seg);
    const part = await get(`/live/sig1/720p/seg-1.m4s?token=${token}`, { headers: { range: "bytes=10-19" } });
    expect(part.status).toBe(206);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(seg.slice(10, 20));
    // ffmpeg asks for `Range: bytes=0-`: a signed manifest is always sent whole, rewritten.
    const ranged = await get(`/live/sig1/master.m3u8?token=${token}`, { headers: { range: "bytes=0-5" } });
    expect(ranged.status).toBe(200);
    expect(await ranged.text()).toContain(`720p/index.m3u8?token=${token}`);
    const head = await get(`/live/sig1/master.m3u8?token=${token}`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("cache-control")).toBe("private, max-age=1");
    expect((await get(`/live/sig1/nope.m4s?token=${token}`)).status).toBe(404);
  });

  test("a newer key list revokes; an older one cannot undo it; a stream turned public opens", async () => {
    await guard.onKeysMessage(enc({ keys: [], ts: 20 }));
    expect((await get(`/live/sig1/master.m3u8?token=${token}`)).status).toBe(403);
    await guard.onKeysMessage(enc({ keys: [pub()], ts: 15 }));
    expect((await get(`/live/sig1/master.m3u8?token=${token}`)).status).toBe(403);
    await guard.onKeysMessage(new TextEncoder().encode("not json"));
    await guard.onKeysMessage(enc({ keys: [pub()], ts: 30 }));
    expect((await get(`/live/sig1/master.m3u8?token=${token}`)).status).toBe(200);
    guard.setDesired([{ id: "sig1" }]);
    expect((await get("/live/sig1/master.m3u8")).status).toBe(200);
    guard.setDesired([{ id: "sig1", playbackPolicy: "signed" }]);
    expect((await get("/live/sig1/master.m3u8")).status).toBe(401);
    expect(topics.playbackKeys).toBe("dionysia/v1/keys");
  });
});

async function probe(url: string): Promise<{ ok: boolean; streams: { width?: number }[]; err: string }> {
  const r = await execa("ffprobe", ["-v", "error", "-show_streams", "-of", "json", url], {
    reject: false,
    timeout: 30_000,
  });
  if (r.exitCode !== 0) return { ok: false, streams: [], err: String(r.stderr) };
  return {
    ok: true,
    streams: (JSON.parse(String(r.stdout)) as { streams: { width?: number }[] }).streams,
    err: "",
  };
}

describe.skipIf(!hasFfmpeg)(
  "ffprobe plays signed HLS and DASH from the tokenised URL (origin and router)",
  () => {
    let dir: string;
    let http: OriginHttp;
    let router: ReturnType<typeof Bun.serve>;
    let token: string;
    let signFor: (id: string) => Promise<string>;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "origin-signed-media-"));
      const hls = join(dir, "live/hls1");
      const dash = join(dir, "live/dash1");
      mkdirSync(hls, { recursive: true });
      mkdirSync(dash, { recursive: true });
      const src = ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "3"];
      await execa(
        "ffmpeg",
        [
          ...src,
          ...[
            "-map",
            "0:v",
            "-map",
            "0:v",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-s:v:1",
            "160x120",
          ],
          ...["-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4"],
          ...["-var_stream_map", "v:0 v:1", "-hls_segment_filename", "v%v/seg-%03d.m4s", "v%v/index.m3u8"],
        ],
        { cwd: hls },
      );
      writeFileSync(
        join(hls, "master.m3u8"),
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=320x240\nv0/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=200000,RESOLUTION=160x120\nv1/index.m3u8\n",
      );
      await execa(
        "ffmpeg",
        [
          ...src,
          "-c:v",
          "libx264",
          "-preset",
          "ultrafast",
          "-g",
          "25",
          "-f",
          "dash",
          "-seg_duration",
          "1",
          "manifest.mpd",
        ],
        { cwd: dash },
      );
      const stack = await startSignedStack(dir, ["hls1", "dash1"], "RS256", "k-rs");
      ({ http, router } = stack);
      const { key } = stack;
      signFor = (id) => signPlaybackToken(key, { sub: id, exp: nowS() + 600 });
      token = await signFor("hls1");
    }, 60_000);
    afterAll(async () => {
      await router?.stop(true);
      await http?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    test("HLS master with ?token= plays (both rungs) at the origin and through the router; without, refused", async () => {
      const direct = await probe(`${http.url}/live/hls1/master.m3u8?token=${token}`);
      expect(direct.err).toBe("");
      expect(direct.streams.map((s) => s.width).sort()).toEqual([160, 320]);
      const routed = await probe(`http://127.0.0.1:${router.port}/live/hls1/master.m3u8?token=${token}`);
      expect(routed.err).toBe("");
      expect(routed.streams.map((s) => s.width).sort()).toEqual([160, 320]);
      expect((await probe(`${http.url}/live/hls1/master.m3u8`)).ok).toBe(false);
      expect((await probe(`http://127.0.0.1:${router.port}/live/hls1/master.m3u8`)).ok).toBe(false);
      // A token for the HLS stream does not open the DASH one.
      expect((await probe(`${http.url}/live/dash1/manifest.mpd?token=${token}`)).ok).toBe(false);
    }, 60_000);

    test("DASH manifest with ?token= plays at the origin and through the router", async () => {
      const t = await signFor("dash1");
      const direct = await probe(`${http.url}/live/dash1/manifest.mpd?token=${t}`);
      expect(direct.err).toBe("");
      expect(direct.streams[0]?.width).toBe(320);
      const routed = await probe(`http://127.0.0.1:${router.port}/live/dash1/manifest.mpd?token=${t}`);
      expect(routed.err).toBe("");
      expect(routed.streams[0]?.width).toBe(320);
    }, 60_000);
  },
);

describe.skipIf(!hasMosquitto)("the origin agent delivers dionysia/v1/keys to the guard (mosquitto)", () => {
  test("retained list on connect, then a revocation", async () => {
    const broker = await startMosquitto();
    const pubc = mqtt.connect(broker.url, { protocolVersion: 4 });
    const guard = new PlaybackGuard(createLogger({ service: "test", level: "silent" }));
    const k = await generatePlaybackKeyPair("ES256");
    const agent = new OriginAgent({
      mqttUrl: broker.url,
      nodeId: "signed-a",
      announce: () => sampleAnnounce("signed-a", { ts: Date.now() }),
      telemetry: () => sampleTelemetry(),
      onDesired: () => undefined,
      onPlaybackKeys: (p) => void guard.onKeysMessage(p),
      logger: createLogger({ service: "test", level: "silent" }),
      reconnectPeriodMs: 200,
    });
    try {
      await new Promise((r) => pubc.once("connect", r));
      await pubc.publishAsync(
        topics.playbackKeys,
        JSON.stringify({ keys: [{ kid: "ka", alg: "ES256", jwk: k.publicJwk }], ts: 1 }),
        {
          qos: 1,
          retain: true,
        },
      );
      await agent.start();
      await waitFor("retained keys at the origin", () => guard.verifier.keyIds.includes("ka"), 5000);
      await pubc.publishAsync(topics.playbackKeys, JSON.stringify({ keys: [], ts: 2 }), {
        qos: 1,
        retain: true,
      });
      await waitFor("revocation at the origin", () => guard.verifier.keyIds.length === 0, 5000);
    } finally {
      await agent.stop();
      await pubc.endAsync(true);
      await broker.stop();
    }
  }, 30_000);
});
