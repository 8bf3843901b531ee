/**
 * A low-latency profile end to end in the origin: real ffmpeg writes CMAF chunks per rung to the
 * supervisor's packagers, the origin's HTTP server answers blocking reloads and preload hints.
 * The playlists are checked with hls-parser, the media with ffprobe.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type DesiredStream, type ProfileSpec } from "@dionysia/shared";
import { freePort, type Publisher, probe, publish, requireBinary, waitFor } from "@dionysia/shared/testkit";
import HLS from "hls-parser";
import { createOriginHttp, type OriginHttp } from "../src/http/index.ts";
import { createOriginMetrics } from "../src/metrics/index.ts";
import { Supervisor } from "../src/supervisor/service.ts";
import { FfmpegBackend } from "../src/transcoder/ffmpeg/index.ts";
import { ffprobeStreams } from "./helpers/ffprobe.ts";
import { startNginxFront } from "./helpers/nginx-front.ts";
import { TestMediaServer } from "./helpers/test-media-server.ts";

// Optional: the nginx-front check runs where nginx is (the launcher installs it for the tests).
const NGINX = requireBinary(
  "nginx",
  "origin/test/low-latency.test.ts (LL through nginx in front)",
  "apt-get install nginx",
);

const ll: ProfileSpec = {
  name: "ll test",
  renditions: [
    { name: "180p", codec: "h264", width: 320, height: 180, fps: 15, bitrateKbps: 300, preset: "ultrafast" },
    { name: "90p", codec: "h264", width: 160, height: 90, fps: 15, bitrateKbps: 100, preset: "ultrafast" },
  ],
  audio: { codec: "aac", bitrateKbps: 64, channels: 2, sampleRate: 48000 },
  segmentDuration: 1,
  partDuration: 0.25,
  windowSize: 8,
  formats: ["ll-hls"],
  container: "fmp4",
};
const desired = (id: string, profile: ProfileSpec): DesiredStream => ({
  id,
  role: "origin",
  profile,
  keyHash: "a".repeat(64),
});

let dataDir: string;
const logger = createLogger({ service: "test", level: process.env.TEST_LOG ?? "silent" });
const cleanups: (() => Promise<void>)[] = [];

let top: string;
beforeAll(() => {
  // The layout the ansible role gives nginx in front of the origin: {top}/data/origin.
  top = mkdtempSync(join(tmpdir(), "origin-ll-"));
  chmodSync(top, 0o755);
  dataDir = join(top, "data/origin");
  mkdirSync(dataDir, { recursive: true });
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => rmSync(top, { recursive: true, force: true }));

async function setup(id: string, profile: ProfileSpec) {
  const port = await freePort();
  const publisher: Publisher = publish(`udp://127.0.0.1:${port}`, {});
  const media = new TestMediaServer();
  const sup = new Supervisor({
    dataDir,
    backend: new FfmpegBackend(),
    mediaServer: media,
    logger,
    pollMs: 100,
    cleanupGraceMs: 1500,
  });
  sup.start();
  const http: OriginHttp = createOriginHttp({
    dataDir,
    logger,
    metrics: createOriginMetrics(),
    hostname: "127.0.0.1",
    port: 0,
    lowLatency: sup,
  });
  cleanups.push(async () => {
    await sup.stop();
    await http.stop();
    await publisher.stop();
  });
  await sup.setDesired([desired(id, profile)]);
  media.publish({
    streamId: id,
    protocol: "srt",
    inputUrl: `udp://127.0.0.1:${port}?overrun_nonfatal=1&fifo_size=100000`,
  });
  return { sup, media, http, base: `${http.url}/live/${id}` };
}

const media = (text: string) => HLS.parse(text) as HLS.types.MediaPlaylist;

describe("low-latency HLS from the origin", () => {
  test("parts, server control, reports; a blocking reload is answered when its part is written", async () => {
    const { sup, http, base } = await setup("ll1", ll);
    await waitFor("live", () => sup.status("ll1") === "live", 45_000);
    const master = HLS.parse(await (await fetch(`${base}/master.m3u8`)).text()) as HLS.types.MasterPlaylist;
    expect(master.variants.map((v) => v.resolution?.height)).toEqual([180, 90]);

    const res = await fetch(`${base}/180p/index.m3u8`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=0");
    const text = await res.text();
    expect(text).toContain("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES");
    expect(text).toMatch(/#EXT-X-PART-INF:PART-TARGET=0\.(2|3)/);
    expect(text).toMatch(/#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-[a-z0-9]+-\d+\.\d+\.m4s"/);
    expect(text).toMatch(/#EXT-X-RENDITION-REPORT:URI="\.\.\/90p\/index\.m3u8",LAST-MSN=\d+,LAST-PART=\d+/);
    expect(text).toMatch(/#EXT-X-RENDITION-REPORT:URI="\.\.\/audio\/index\.m3u8"/);
    // Audio is cut on the media timeline: its MSNs keep pace with the video's (one ahead at most:
    // it leaves the encoder sooner).
    const lastMsn = (uri: string) => Number(new RegExp(`URI="${uri}",LAST-MSN=(\\d+)`).exec(text)![1]);
    expect(Math.abs(lastMsn("../audio/index.m3u8") - lastMsn("../90p/index.m3u8"))).toBeLessThanOrEqual(1);
    const pl = media(text);
    expect(pl.segments.length).toBeGreaterThanOrEqual(1);

    // Ask for the part after the preload hint's: held, then answered once it exists.
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-[a-z0-9]+-(\d+)\.(\d+)\.m4s"/.exec(text)!;
    const [msn, part] = [Number(hint[1]), Number(hint[2])];
    const asked = Date.now();
    const held = await fetch(`${base}/180p/index.m3u8?_HLS_msn=${msn}&_HLS_part=${part}`);
    const waited = Date.now() - asked;
    expect(held.status).toBe(200);
    expect(held.headers.get("cache-control")).toMatch(/^public, max-age=\d+$/);
    const after = await held.text();
    // The part asked for is listed (or its segment is complete), within a few part durations.
    expect(after).toContain(`-${msn}.${part}.m4s`);
    // Answered the moment the part is on disk (its file's mtime), and within a part of asking.
    const answeredAt = Date.now();
    const written = statSync(join(dataDir, "live", "ll1", "180p", `${hint[0].split('"')[1]}`)).mtimeMs;
    expect(answeredAt - written).toBeLessThan(150);
    expect(waited).toBeLessThan(0.25 * 1000 + 150 + 100);

    // A delta update skips the oldest segments once the window is long enough.
    await waitFor(
      "window",
      async () => {
        const pl = media(await (await fetch(`${base}/180p/index.m3u8`)).text());
        return pl.segments.filter((s) => s.uri).length >= 8;
      },
      30_000,
    );
    const delta = await (await fetch(`${base}/180p/index.m3u8?_HLS_skip=YES`)).text();
    expect(delta).toMatch(/#EXT-X-SKIP:SKIPPED-SEGMENTS=\d+/);

    // Too far ahead: 400 at once.
    const far = await fetch(`${base}/180p/index.m3u8?_HLS_msn=${msn + 100}`);
    expect(far.status).toBe(400);

    // The preload hint's part, asked before it exists, comes when it is written: a real fMP4 chunk.
    const now = await (await fetch(`${base}/90p/index.m3u8`)).text();
    const next = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(now)![1]!;
    const partRes = await fetch(`${base}/90p/${next}`);
    expect(partRes.status).toBe(200);
    const bytes = new Uint8Array(await partRes.arrayBuffer());
    expect(new TextDecoder().decode(bytes.subarray(4, 8))).toMatch(/styp|moof/);

    // The same through nginx in front of the origin (the rollout's origin_nginx_front): LL
    // playlists are not on disk, so nginx hands them to the origin, which holds them.
    if (NGINX) {
      const front = await startNginxFront(NGINX, top, http.port);
      cleanups.push(() => front.stop());
      const viaNginx = `${front.base}/live/ll1/180p/index.m3u8`;
      const t = await (await fetch(viaNginx)).text();
      const h = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-[a-z0-9]+-(\d+)\.(\d+)\.m4s"/.exec(t)!;
      const t0 = Date.now();
      const r = await fetch(`${viaNginx}?_HLS_msn=${h[1]}&_HLS_part=${h[2]}`);
      expect(r.status).toBe(200);
      expect(r.headers.get("cache-control")).toMatch(/^public, max-age=\d+$/);
      expect(await r.text()).toContain(`-${h[1]}.${h[2]}.m4s"`);
      expect(Date.now() - t0).toBeLessThan(0.25 * 1000 + 150 + 100);
      const hinted = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(
        await (await fetch(viaNginx)).text(),
      )![1]!;
      const part = await fetch(`${front.base}/live/ll1/180p/${hinted}`);
      expect(part.status).toBe(200);
      expect((await part.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }

    // A player that ignores the LL tags (ffmpeg's HLS reader) plays the master as ordinary HLS.
    const probed = await probe(`${base}/master.m3u8`, 20_000);
    expect(probed.streams.map((x) => x.codec_name).sort()).toContain("h264");
    expect(probed.streams.some((x) => x.codec_name === "aac")).toBe(true);

    // Segments play: init + a complete segment probe as h264 at the rung's size.
    const last = media(await (await fetch(`${base}/90p/index.m3u8`)).text());
    const seg = last.segments.find((s) => s.uri.startsWith("seg-"))!;
    const dir = join(dataDir, "live", "ll1", "90p");
    const joined = join(dataDir, "ll1-joined.mp4");
    writeFileSync(
      joined,
      Buffer.concat([readFileSync(join(dir, seg.map!.uri)), readFileSync(join(dir, seg.uri))]),
    );
    const streams = await ffprobeStreams(joined);
    expect(streams.find((s) => s.codec_type === "video")).toMatchObject({ codec_name: "h264", height: 90 });
  }, 120_000);

  test("an encoder crash: the same playlists go on, MSNs forward, a new discontinuity, no ENDLIST", async () => {
    const { sup, base } = await setup("ll2", { ...ll, windowSize: 4 });
    await waitFor("live", () => sup.status("ll2") === "live", 45_000);
    const url = `${base}/180p/index.m3u8`;
    const before = media(await (await fetch(url)).text());
    // The newest complete segment (hls-parser lists the open one too, with parts and no URI).
    const lastBefore = before.mediaSequenceBase! + before.segments.filter((x) => x.uri).length - 1;
    const pid = sup.processes()[0]!.pid!;
    process.kill(pid, "SIGKILL");
    // Through the restart, every answer is a live playlist (no ENDLIST, no 404); a blocking
    // request for the next segment is held over the gap and answered from the new encoder.
    const held = fetch(`${url}?_HLS_msn=${lastBefore + 2}`);
    const seen: string[] = [];
    await waitFor(
      "the new encoder's segments",
      async () => {
        const r = await fetch(url);
        const text = await r.text();
        expect(r.status).toBe(200);
        // Never an empty window: the old run's segments stay listed until the new run has one.
        expect(text).toContain("#EXTINF");
        seen.push(text);
        return text.includes("#EXT-X-DISCONTINUITY-SEQUENCE:1");
      },
      30_000,
      100,
    );
    expect(seen.some((t) => t.includes("#EXT-X-ENDLIST"))).toBe(false);
    const after = media(seen.at(-1)!);
    expect(after.mediaSequenceBase!).toBeGreaterThan(lastBefore);
    expect(after.discontinuitySequenceBase).toBe(1);
    const init = (t: string) => /#EXT-X-MAP:URI="([^"]+)"/.exec(t)![1];
    expect(init(seen.at(-1)!)).not.toBe(init(seen[0]!));
    const answered = await held;
    expect(`${answered.status} ${answered.status === 200 ? "" : await answered.text()}`).toBe("200 ");
    // Answered from the new encoder, with the segment asked for (or its parts).
    const heldText = await answered.text();
    expect(heldText).toContain("#EXT-X-DISCONTINUITY-SEQUENCE:1");
    expect(heldText).toMatch(new RegExp(`-${lastBefore + 2}(\\.\\d+)?\\.m4s`));
    // The stream ends for real when its input goes: then ENDLIST.
    await sup.setDesired([]);
    await waitFor(
      "ENDLIST",
      async () => (await (await fetch(url)).text()).includes("#EXT-X-ENDLIST"),
      15_000,
    );
  }, 120_000);
});
