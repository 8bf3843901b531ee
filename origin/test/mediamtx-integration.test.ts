/**
 * Real mediamtx, when it is on PATH (or MEDIAMTX_BIN): the origin writes mediamtx.yml, runs it,
 * answers its auth calls, and sees an ffmpeg RTMP publish through /v3/paths/list.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findBinary, probe, publishRtmp, reportSkip, waitFor } from "@dionysia/shared/testkit";
import { createKeyAuthority } from "../src/auth/key-authority.ts";
import { MediamtxMediaServer } from "../src/media/mediamtx/index.ts";
import type { PublishEvent } from "../src/media/types.ts";
import { makeStream, testLogger } from "./media-helpers/fixtures.ts";

const bin = process.env.MEDIAMTX_BIN ?? findBinary("mediamtx");
if (!bin)
  reportSkip(
    "origin/test/mediamtx-integration.test.ts",
    "mediamtx is not on PATH and MEDIAMTX_BIN is unset (not in Debian: https://github.com/bluenviron/mediamtx/releases)",
  );

describe("mediamtx integration", () => {
  const dir = mkdtempSync(join(tmpdir(), "mediamtx-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.skipIf(!bin)(
    "RTMP publish with the right key → onPublish, readable; wrong key refused",
    async () => {
      const s = makeStream();
      const authority = createKeyAuthority({ local: () => [s.spec], nodeId: "n1", logger: testLogger });
      const base = 21000 + Math.floor(Math.random() * 1000) * 5;
      let server: MediamtxMediaServer | undefined;
      const http = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => server!.authHandler()(req) });
      server = new MediamtxMediaServer({
        authority,
        logger: testLogger,
        bin: bin!,
        configPath: join(dir, "mediamtx.yml"),
        pollIntervalMs: 200,
        config: {
          authHttpAddress: `http://127.0.0.1:${http.port}/internal/mediamtx/auth`,
          rtmpPort: base,
          rtspPort: base + 1,
          srtPort: base + 2,
          webrtcPort: base + 3,
          apiPort: base + 4,
          logLevel: "warn",
        },
      });
      const published: PublishEvent[] = [];
      server.onPublish((e) => published.push(e));
      try {
        await server.start();
        const wrong = await publishRtmp(`rtmp://127.0.0.1:${base}/live/sk_wrong`, 2).done;
        expect(wrong).not.toBe(0);
        const pub = publishRtmp(`rtmp://127.0.0.1:${base}/live/${s.key}`, 6);
        const ev = await waitFor("onPublish", () => published.find((e) => e.streamId === s.spec.id), 20000);
        expect(ev.protocol).toBe("rtmp");
        const p = await probe(ev.inputUrl);
        expect(p.streams.find((x) => x.codec_type === "video")).toMatchObject({ width: 160, height: 90 });
        await pub.stop();
      } finally {
        await server.stop();
        http.stop(true);
      }
    },
    60000,
  );
});
