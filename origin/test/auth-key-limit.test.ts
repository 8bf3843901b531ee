/**
 * Issue 9 item 6 at the origin: wrong stream keys are limited per source address in the one
 * access policy both media servers call. Past the limit, control is not asked at all; a key of
 * the local desired state still works; another address is untouched. Then a real ffmpeg RTMP push
 * from a limited address is refused with the reason.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { FailureLimiter, newStreamId, newStreamKey } from "@dionysia/shared";
import { publishRtmp } from "@dionysia/shared/testkit";
import { createAccessPolicy } from "../src/auth/access.ts";
import { createKeyAuthority } from "../src/auth/key-authority.ts";
import { describeRefusal } from "../src/auth/publish-refusal.ts";
import { EmbeddedMediaServer } from "../src/media/embedded/index.ts";
import { createOriginMetrics } from "../src/metrics/index.ts";
import { startControlStub } from "./media-helpers/control-stub.ts";
import { captureLogger, makeStream, PROFILE } from "./media-helpers/fixtures.ts";

const NODE_KEY = "nk_key_limit_test_node_key_01";
const hasFfmpeg = Bun.which("ffmpeg") !== null;
if (!hasFfmpeg) console.warn("skipping the RTMP part of the key limit test: ffmpeg not on PATH");

const stub = startControlStub(NODE_KEY, [
  { streamId: newStreamId(), streamKey: newStreamKey(), profileId: "p", profile: PROFILE },
]);
afterAll(() => stub.stop());

function policy(limit = 5) {
  const local = makeStream();
  const { logger, lines } = captureLogger();
  const metrics = createOriginMetrics();
  const access = createAccessPolicy({
    logger,
    rejected: metrics.publishRejected,
    keyFailures: new FailureLimiter({ limit, windowMs: 60_000 }),
    authority: createKeyAuthority({
      local: () => [local.spec],
      controlUrl: stub.url,
      nodeKey: NODE_KEY,
      nodeId: "n1",
      logger,
    }),
  });
  return { access, local, lines, metrics };
}

describe("wrong stream keys per source address", () => {
  test("past the limit: refused as rate_limited without asking control; valid keys and other addresses fine", async () => {
    const { access, local, lines, metrics } = policy(5);
    const wrong = (remoteAddr: string) =>
      access.authorize({ action: "publish", protocol: "rtmp", streamKey: newStreamKey(), remoteAddr });
    const asked0 = stub.requests.length;
    for (let i = 0; i < 5; i++)
      expect(await wrong("203.0.113.7")).toMatchObject({ ok: false, reason: "wrong_key" });
    expect(stub.requests.length - asked0).toBe(5);
    for (let i = 0; i < 50; i++) {
      const d = await wrong("203.0.113.7");
      expect(d).toMatchObject({ ok: false, reason: "rate_limited" });
    }
    expect(stub.requests.length - asked0).toBe(5); // control was never asked again
    // The same address with the stream key this node carries: still accepted.
    const ok = await access.authorize({
      action: "publish",
      protocol: "srt",
      streamKey: local.key,
      remoteAddr: "::ffff:203.0.113.7",
    });
    expect(ok).toMatchObject({ ok: true, streamId: local.spec.id });
    // Another address: a wrong key is a plain wrong_key, asked of control.
    expect(await wrong("198.51.100.1")).toMatchObject({ ok: false, reason: "wrong_key" });
    expect(stub.requests.length - asked0).toBe(6);
    const m = await metrics.publishRejected.get();
    expect(m.values.find((v) => v.labels.reason === "rate_limited")?.value).toBe(50);
    expect(lines.some((l) => String(l.msg) === "publish rejected: rate_limited")).toBe(true);
  });

  test.skipIf(!hasFfmpeg)(
    "a real RTMP push from a limited address is refused with the reason",
    async () => {
      const { logger } = captureLogger();
      const local = makeStream();
      const server = new EmbeddedMediaServer({
        rtmpPort: 0,
        bindHost: "127.0.0.1",
        logger,
        keyFailures: new FailureLimiter({ limit: 2, windowMs: 60_000 }),
        authority: createKeyAuthority({ local: () => [local.spec], nodeId: "n1", logger }),
      });
      await server.start();
      try {
        await server.configure([local.spec]);
        const port = server.rtmpPort();
        const push = async (key: string) => {
          const p = publishRtmp(`rtmp://127.0.0.1:${port}/live/${key}`, 2);
          await p.done;
          return p.stderr();
        };
        for (let i = 0; i < 2; i++)
          expect(await push(newStreamKey())).toContain(describeRefusal("wrong_key"));
        expect(await push(newStreamKey())).toContain(describeRefusal("rate_limited"));
      } finally {
        await server.stop();
      }
    },
    60_000,
  );
});
