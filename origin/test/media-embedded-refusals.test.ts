/**
 * Refused publishes say why, to the streamer and in the origin: real ffmpeg pushes to the embedded
 * RTMP server, with control (a stub of its documented contract) answering each refusal. ffmpeg
 * prints `Server error: <description>` and exits non-zero; the onStatus code is BadName for a wrong
 * key; the log line and `dionysia_origin_publish_rejected_total{reason}` carry the reason.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { newStreamId, newStreamKey } from "@dionysia/shared";
import { publishRtmp, waitFor } from "@dionysia/shared/testkit";
import { createKeyAuthority } from "../src/auth/key-authority.ts";
import { describeRefusal, type PublishRefusal } from "../src/auth/publish-refusal.ts";
import { EmbeddedMediaServer } from "../src/media/embedded/index.ts";
import { createOriginMetrics, type OriginMetrics } from "../src/metrics/index.ts";
import { type ControlStub, type StubMode, startControlStub } from "./media-helpers/control-stub.ts";
import { captureLogger, makeStream, PROFILE } from "./media-helpers/fixtures.ts";
import { rtmpPublishStatus } from "./media-helpers/rtmp-publish-status.ts";

const NODE_KEY = "nk_embedded_refusal_test_key";
const hasFfmpeg = Bun.which("ffmpeg") !== null;
if (!hasFfmpeg) console.warn("skipping embedded RTMP refusal tests: ffmpeg not on PATH");

async function rejectedCount(metrics: OriginMetrics, reason: PublishRefusal): Promise<number> {
  const m = await metrics.publishRejected.get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe.skipIf(!hasFfmpeg)("embedded RTMP: refusals say why", () => {
  let server: EmbeddedMediaServer;
  let stub: ControlStub;
  let port = 0;
  const metrics = createOriginMetrics();
  const { logger, lines } = captureLogger();
  const local = makeStream();
  const remote = { streamId: newStreamId(), streamKey: newStreamKey(), profileId: "p", profile: PROFILE };

  beforeAll(async () => {
    stub = startControlStub(NODE_KEY, [remote]);
    server = new EmbeddedMediaServer({
      rtmpPort: 0,
      bindHost: "127.0.0.1",
      logger: logger.child({ nodeId: "node-test" }),
      publishRejected: metrics.publishRejected,
      authority: createKeyAuthority({
        local: () => [local.spec],
        controlUrl: stub.url,
        nodeKey: NODE_KEY,
        nodeId: "node-test",
        logger,
        timeoutMs: 1500,
      }),
    });
    await server.start();
    await server.configure([local.spec]);
    port = server.rtmpPort();
  });

  afterAll(async () => {
    await server.stop();
    stub.stop();
  }, 30000);

  /** One refused ffmpeg push: exit code, stderr, and the origin's log line for it. */
  async function refusedPush(key: string) {
    const before = lines.length;
    const pub = publishRtmp(`rtmp://127.0.0.1:${port}/live/${key}`, 3);
    const code = await pub.done;
    const logged = lines.slice(before).find((l) => String(l.msg).startsWith("publish rejected"));
    return { code, stderr: pub.stderr(), logged };
  }

  const cases: { mode: StubMode; reason: PublishRefusal; words: string }[] = [
    { mode: "no_capacity", reason: "no_capacity", words: "no capacity" },
    { mode: "already_live", reason: "already_live", words: "already live" },
    { mode: "node_unavailable", reason: "node_unavailable", words: "cordoned or draining" },
    { mode: "error500", reason: "control_unreachable", words: "control unreachable" },
  ];
  for (const c of cases) {
    test(`control answers ${c.mode} → ffmpeg prints "${c.words}", exits non-zero; log and metric say ${c.reason}`, async () => {
      stub.mode = c.mode;
      const counted = await rejectedCount(metrics, c.reason);
      const r = await refusedPush(remote.streamKey);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`Server error: ${describeRefusal(c.reason)}`);
      expect(r.stderr).toContain(c.words);
      expect(r.logged).toMatchObject({ reason: c.reason, protocol: "rtmp", nodeId: "node-test" });
      expect(r.logged?.msg).toBe(`publish rejected: ${c.reason}`);
      expect(await rejectedCount(metrics, c.reason)).toBe(counted + 1);
      expect(server.active().length).toBe(0);
    }, 30000);
  }

  test("wrong key → onStatus error NetStream.Publish.BadName; ffmpeg prints 'invalid stream key'", async () => {
    stub.mode = "normal";
    const counted = await rejectedCount(metrics, "wrong_key");
    const st = await rtmpPublishStatus("127.0.0.1", port, "live", "sk_not_a_key_at_all");
    expect(st).toEqual({
      level: "error",
      code: "NetStream.Publish.BadName",
      description: "invalid stream key",
    });
    const r = await refusedPush("sk_still_not_a_key");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Server error: invalid stream key");
    expect(r.logged).toMatchObject({ reason: "wrong_key" });
    // The key itself is never logged.
    expect(JSON.stringify(lines)).not.toContain("sk_still_not_a_key");
    expect(await rejectedCount(metrics, "wrong_key")).toBe(counted + 2);
  }, 30000);

  test("capacity refusal carries a denial code, not BadName", async () => {
    stub.mode = "no_capacity";
    const st = await rtmpPublishStatus("127.0.0.1", port, "live", remote.streamKey);
    expect(st.level).toBe("error");
    expect(st.code).toBe("NetStream.Publish.Denied");
    expect(st.description).toContain("no capacity");
    stub.mode = "normal";
  }, 30000);

  test("a second publisher of a live stream → 'already live' from the origin itself", async () => {
    stub.mode = "normal";
    const first = publishRtmp(`rtmp://127.0.0.1:${port}/live/${local.key}`, 8);
    await waitFor("first live", () => server.active().find((e) => e.streamId === local.spec.id), 15000);
    const counted = await rejectedCount(metrics, "already_live");
    const r = await refusedPush(local.key);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("already live");
    expect(r.logged).toMatchObject({ reason: "already_live", streamId: local.spec.id });
    expect(await rejectedCount(metrics, "already_live")).toBe(counted + 1);
    await first.stop();
    await waitFor("idle", () => server.active().length === 0, 10000);
  }, 40000);

  test("every reason is exported at scrape time, refused ones counted", async () => {
    const text = await metrics.registry.metrics();
    expect(text).toContain('dionysia_origin_publish_rejected_total{reason="node_unavailable"} 1');
    expect(text).toContain('dionysia_origin_publish_rejected_total{reason="control_error"} 0');
  });
});
