/**
 * Embedded media server, RTMP side, with real ffmpeg publishers: key check before publish,
 * control fallback, fail closed, unpublish, republish, junk on the port, relay reads.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { newStreamId, newStreamKey } from "@dionysia/shared";
import { probe, publishRtmp, waitFor } from "@dionysia/shared/testkit";
import { createKeyAuthority } from "../src/auth/key-authority.ts";
import { deriveRelaySecret } from "../src/auth/relay-token.ts";
import { EmbeddedMediaServer } from "../src/media/embedded/index.ts";
import type { MediaStreamSpec, PublishEvent, UnpublishEvent } from "../src/media/types.ts";
import { type ControlStub, startControlStub } from "./media-helpers/control-stub.ts";
import { makeStream, PROFILE, testLogger } from "./media-helpers/fixtures.ts";

const NODE_KEY = "nk_embedded_rtmp_test_key";

describe("embedded media server: RTMP", () => {
  let server: EmbeddedMediaServer;
  let stub: ControlStub;
  let specs: MediaStreamSpec[] = [];
  const published: PublishEvent[] = [];
  const unpublished: UnpublishEvent[] = [];
  const a = makeStream();
  const remote = {
    streamId: newStreamId(),
    streamKey: newStreamKey(),
    profileId: "builtin-360p",
    profile: PROFILE,
  };
  let base = "";

  beforeAll(async () => {
    stub = startControlStub(NODE_KEY, [remote]);
    specs = [a.spec];
    server = new EmbeddedMediaServer({
      rtmpPort: 0,
      bindHost: "127.0.0.1",
      logger: testLogger,
      relaySecret: deriveRelaySecret(NODE_KEY),
      authority: createKeyAuthority({
        local: () => specs,
        controlUrl: stub.url,
        nodeKey: NODE_KEY,
        nodeId: "node-test",
        logger: testLogger,
        timeoutMs: 1500,
      }),
    });
    server.onPublish((e) => published.push(e));
    server.onUnpublish((e) => unpublished.push(e));
    await server.start();
    await server.configure(specs);
    base = `rtmp://127.0.0.1:${server.rtmpPort()}`;
  });

  afterAll(async () => {
    await server.stop();
    stub.stop();
  }, 30000);

  test("right key → onPublish with a readable local input (h264 160x90), then onUnpublish", async () => {
    const pub = publishRtmp(`${base}/live/${a.key}`, 5);
    const ev = await waitFor("onPublish", () => published.find((e) => e.streamId === a.spec.id), 15000);
    expect(ev.protocol).toBe("rtmp");
    expect(ev.remoteAddr).toContain("127.0.0.1");
    expect(ev.inputUrl).toBe(`${base}/live/${a.spec.id}`);
    expect(ev.inputUrl).not.toContain(a.key);
    expect(ev.profile).toBeUndefined(); // known locally: the desired state has the profile
    // Tracks read from the FLV stream: the supervisor starts the transcoder without a probe.
    // With the rate ffmpeg declares in onMetaData (gpac's low latency needs it, ADR 0099).
    expect(ev.tracks).toEqual({ video: true, audio: true, frameRate: 15 });
    expect(server.active().map((e) => e.streamId)).toContain(a.spec.id);
    const p = await probe(ev.inputUrl);
    const video = p.streams.find((s) => s.codec_type === "video");
    expect(video).toMatchObject({ codec_name: "h264", width: 160, height: 90 });
    expect(p.streams.some((s) => s.codec_name === "aac")).toBe(true);
    expect(await pub.done).toBe(0);
    await waitFor("onUnpublish", () => unpublished.find((e) => e.streamId === a.spec.id), 10000);
    expect(server.active().length).toBe(0);
    expect(server.ingressBytes()).toBeGreaterThan(10_000);
  }, 30000);

  test("publisher returns → onPublish again", async () => {
    const before = published.filter((e) => e.streamId === a.spec.id).length;
    const pub = publishRtmp(`${base}/live/${a.key}`, 2);
    await waitFor(
      "second onPublish",
      () => published.filter((e) => e.streamId === a.spec.id).length > before,
      15000,
    );
    await pub.done;
    await waitFor("idle again", () => server.active().length === 0, 10000);
  }, 30000);

  for (const c of [
    { name: "video-only", video: true, audio: false },
    { name: "audio-only", video: false, audio: true },
    { name: "video-only without onMetaData (settle timer)", video: true, audio: false, metadata: false },
    { name: "audio+video without onMetaData", video: true, audio: true, metadata: false },
  ]) {
    test(`tracks reported for a ${c.name} publisher`, async () => {
      const before = published.filter((e) => e.streamId === a.spec.id).length;
      const pub = publishRtmp(`${base}/live/${a.key}`, 3, c);
      const ev = await waitFor(
        `onPublish (${c.name})`,
        () => published.filter((e) => e.streamId === a.spec.id)[before],
        15000,
      );
      const declared = c.video && c.metadata !== false ? { frameRate: 15 } : {};
      expect(ev.tracks).toEqual({ video: c.video, audio: c.audio, ...declared });
      expect(await pub.done).toBe(0);
      await waitFor("idle", () => server.active().length === 0, 10000);
    }, 30000);
  }

  test("wrong key → publisher refused, no onPublish", async () => {
    const before = published.length;
    const pub = publishRtmp(`${base}/live/sk_definitely_not_a_key`, 3);
    const code = await pub.done;
    expect(code).not.toBe(0);
    expect(published.length).toBe(before);
    expect(server.active().length).toBe(0);
  }, 30000);

  test("key unknown locally but accepted by control → onPublish with profile and key hash", async () => {
    stub.mode = "normal";
    const pub = publishRtmp(`${base}/live/${remote.streamKey}`, 3);
    const ev = await waitFor("onPublish", () => published.find((e) => e.streamId === remote.streamId), 15000);
    expect(ev.profile?.name).toBe(PROFILE.name);
    expect(ev.keyHash).toMatch(/^[0-9a-f]{64}$/);
    await pub.done;
    await waitFor("onUnpublish", () => unpublished.find((e) => e.streamId === remote.streamId), 10000);
  }, 30000);

  test("control down → rejected (fail closed)", async () => {
    stub.mode = "error500";
    const before = published.length;
    const code = await publishRtmp(`${base}/live/${remote.streamKey}`, 3).done;
    expect(code).not.toBe(0);
    expect(published.length).toBe(before);
    stub.mode = "normal";
  }, 30000);

  test("junk bytes and a truncated handshake crash nothing; the next publish works", async () => {
    const port = server.rtmpPort();
    const send = (bytes: Buffer, closeAfter = true) =>
      new Promise<void>((resolve) => {
        const s = connect(port, "127.0.0.1", () => {
          s.write(bytes);
          if (closeAfter) setTimeout(() => s.destroy(), 100);
        });
        s.on("error", () => resolve());
        s.on("close", () => resolve());
      });
    await send(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await send(Buffer.alloc(5000, 0xff));
    await send(Buffer.concat([Buffer.from([3]), Buffer.alloc(700, 1)])); // half a C1
    // full C0+C1+C2 then garbage chunk headers
    await send(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536 * 2, 7), Buffer.alloc(4000, 0x55)]));
    const before = published.length;
    const pub = publishRtmp(`${base}/live/${a.key}`, 2);
    await waitFor("publish after junk", () => published.length > before, 15000);
    await pub.done;
    await waitFor("idle", () => server.active().length === 0, 10000);
  }, 30000);

  test("reads: loopback allowed, relay needs a valid token", async () => {
    const pub = publishRtmp(`${base}/live/${a.key}`, 8);
    const ev = await waitFor("live", () => server.active().find((e) => e.streamId === a.spec.id), 15000);
    const relay = server.relayUrlFor(a.spec.id)!;
    expect(relay).toContain(`/relay/${a.spec.id}?token=`);
    expect(server.endpoints().relay).toBe(`${base}/relay`);
    const withToken = await probe(relay);
    expect(withToken.streams.find((s) => s.codec_type === "video")).toMatchObject({ width: 160, height: 90 });
    const noToken = await probe(`${base}/relay/${a.spec.id}`, 8000);
    expect(noToken.streams.length).toBe(0);
    const badToken = await probe(`${base}/relay/${a.spec.id}?token=1.${"A".repeat(43)}`, 8000);
    expect(badToken.streams.length).toBe(0);
    // Reading by key, or an unknown app, is never a way in.
    expect((await probe(`${base}/live/${a.key}`, 8000)).streams.length).toBe(0);
    expect(ev.inputUrl).toContain("127.0.0.1");
    await pub.stop();
    await waitFor("idle", () => server.active().length === 0, 10000);
  }, 40000);
});
