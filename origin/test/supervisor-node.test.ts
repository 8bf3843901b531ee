/** createOriginNode wiring: HTTP serves what the supervisor's ffmpeg writes; stop() cleans up. */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type ProfileSpec } from "@dionysia/shared";
import { freePort, isAlive, publish, waitFor } from "@dionysia/shared/testkit";
import HLS from "hls-parser";
import { loadOriginConfig } from "../src/config.ts";
import { createOriginNode } from "../src/node.ts";
import { DEFAULT_THUMBNAIL_INTERVAL_SEC } from "../src/transcoder/thumbnail.ts";
import { ffprobeStreams } from "./helpers/ffprobe.ts";
import { TestMediaServer } from "./helpers/test-media-server.ts";

const dataDir = mkdtempSync(join(tmpdir(), "origin-node-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const profile: ProfileSpec = {
  name: "t",
  renditions: [
    { name: "90p", codec: "h264", width: 160, height: 90, fps: 15, bitrateKbps: 100, preset: "ultrafast" },
  ],
  audio: { codec: "aac", bitrateKbps: 64 },
  segmentDuration: 1,
  windowSize: 4,
  formats: ["hls"],
};

test("config refuses bad values with every problem named", () => {
  expect(() => loadOriginConfig({ ORIGIN_PORT: "99999", TRANSCODER: "vlc" })).toThrow(
    /ORIGIN_PORT[\s\S]*TRANSCODER/,
  );
  expect(loadOriginConfig({}).port).toBe(8090);
});

test("origin node: publish → /live/{id}/master.m3u8 over HTTP → stop leaves nothing running", async () => {
  const config = loadOriginConfig({
    ORIGIN_HOST: "127.0.0.1",
    ORIGIN_PORT: "0",
    DATA_DIR: dataDir,
    TRANSCODER: "ffmpeg",
  });
  const media = new TestMediaServer();
  const node = createOriginNode(config, {
    mediaServer: media,
    logger: createLogger({ service: "test", level: "silent" }),
    supervisor: { pollMs: 200 },
  });
  const port = await freePort();
  const pub = publish(`udp://127.0.0.1:${port}`);
  // Leftovers of an earlier run (a host restarted with its disk) must not be served.
  mkdirSync(join(dataDir, "live", "stale"), { recursive: true });
  writeFileSync(join(dataDir, "live", "stale", "master.m3u8"), "#EXTM3U\n");
  try {
    await node.start();
    expect((await fetch(`${node.http!.url}/live/stale/master.m3u8`)).status).toBe(404);
    await node.supervisor.setDesired([{ id: "node1", role: "origin", profile, keyHash: "b".repeat(64) }]);
    media.publish({
      streamId: "node1",
      protocol: "rtmp",
      inputUrl: `udp://127.0.0.1:${port}?overrun_nonfatal=1`,
    });
    const base = node.http!.url;
    const res = await waitFor(
      "master over HTTP",
      async () => {
        const r = await fetch(`${base}/live/node1/master.m3u8`);
        return r.status === 200 ? r : undefined;
      },
      45_000,
    );
    expect(res.headers.get("cache-control")).toBe("public, max-age=1");
    const master = HLS.parse(await res.text()) as HLS.types.MasterPlaylist;
    const media1 = await fetch(`${base}/live/node1/${master.variants[0]!.uri}`);
    expect(media1.status).toBe(200);
    // The live thumbnail (ADR 0093): the supervisor's process writes it into its run folder, the
    // node's HTTP finds it at the stream's path.
    const thumb = await waitFor(
      "thumbnail over HTTP",
      async () => {
        const r = await fetch(`${base}/live/node1/thumbnail.jpg`);
        return r.status === 200 ? r : void (await r.body?.cancel());
      },
      20_000,
    );
    expect(thumb.headers.get("content-type")).toBe("image/jpeg");
    expect(thumb.headers.get("cache-control")).toBe(`public, max-age=${DEFAULT_THUMBNAIL_INTERVAL_SEC}`);
    const jpeg = join(dataDir, "thumb.jpg");
    writeFileSync(jpeg, new Uint8Array(await thumb.arrayBuffer()));
    const [s] = await ffprobeStreams(jpeg);
    expect([s?.codec_name, s?.width, s?.height]).toEqual(["mjpeg", 160, 90]);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain("dionysia_origin_active_streams 1");
    expect(metrics).toMatch(/dionysia_origin_segments_written_total\{stream="node1"\} \d+/);
    const pids = node.supervisor.processes().map((p) => p.pid);
    await node.stop();
    expect(pids.some(isAlive)).toBe(false);
  } finally {
    await pub.stop();
  }
}, 90_000);
