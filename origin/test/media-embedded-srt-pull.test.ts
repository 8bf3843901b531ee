/**
 * Embedded media server, SRT listeners and pull inputs, with real ffmpeg: passphrase-protected
 * SRT publish, wrong passphrase refused by SRT, pulls from an SRT listener and from an RTMP
 * source, declarative configure, and no child process left after stop().
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { isAlive, probe, publishRtmp, publishSrt, serveSrtListener, waitFor } from "@dionysia/shared/testkit";
import { createKeyAuthority } from "../src/auth/key-authority.ts";
import { EmbeddedMediaServer } from "../src/media/embedded/index.ts";
import type { MediaStreamSpec, PublishEvent, UnpublishEvent } from "../src/media/types.ts";
import { makeSrtStream, makeStream, randomPortRange, testLogger } from "./media-helpers/fixtures.ts";

describe("embedded media server: SRT and pull inputs", () => {
  let server: EmbeddedMediaServer;
  let specs: MediaStreamSpec[] = [];
  const published: PublishEvent[] = [];
  const unpublished: UnpublishEvent[] = [];
  const range = randomPortRange();
  const srt = makeSrtStream();

  beforeAll(async () => {
    server = new EmbeddedMediaServer({
      rtmpPort: 0,
      bindHost: "127.0.0.1",
      srtPortRange: range,
      logger: testLogger,
      pullBackoff: { initialMs: 300, maxMs: 2000 },
      authority: createKeyAuthority({ local: () => specs, nodeId: "node-test", logger: testLogger }),
    });
    server.onPublish((e) => published.push(e));
    server.onUnpublish((e) => unpublished.push(e));
    await server.start();
  });

  afterAll(async () => {
    await server.stop();
  });

  test("SRT: listener on a port from the range; right passphrase → onPublish; wrong one refused", async () => {
    specs = [srt.spec];
    await server.configure(specs);
    const port = server.srtPort(srt.spec.id)!;
    expect(port).toBeGreaterThanOrEqual(range.from);
    expect(port).toBeLessThanOrEqual(range.to);
    expect(server.processes().length).toBe(1);

    const wrong = publishSrt("127.0.0.1", port, "not-the-right-passphrase", 2);
    expect(await wrong.done).not.toBe(0);
    expect(published.some((e) => e.streamId === srt.spec.id)).toBe(false);

    const pub = publishSrt("127.0.0.1", port, srt.passphrase, 4);
    const ev = await waitFor("SRT onPublish", () => published.find((e) => e.streamId === srt.spec.id), 20000);
    expect(ev.protocol).toBe("srt");
    expect(ev.inputUrl).not.toContain(srt.passphrase);
    const p = await probe(ev.inputUrl);
    expect(p.streams.find((s) => s.codec_type === "video")).toMatchObject({
      codec_name: "h264",
      width: 160,
      height: 90,
    });
    await pub.done;
    await waitFor("SRT onUnpublish", () => unpublished.find((e) => e.streamId === srt.spec.id), 15000);
  }, 60000);

  test("SRT: the listener is back after the publisher leaves; the publisher returns → onPublish again", async () => {
    const port = server.srtPort(srt.spec.id)!;
    const before = published.filter((e) => e.streamId === srt.spec.id).length;
    // The listener restarts after the previous publisher left; retry the caller until it is up.
    await waitFor(
      "second SRT publish",
      async () => {
        const pub = publishSrt("127.0.0.1", port, srt.passphrase, 2);
        await pub.done;
        return published.filter((e) => e.streamId === srt.spec.id).length > before;
      },
      30000,
      200,
    );
    await waitFor("idle", () => server.active().length === 0, 15000);
  }, 60000);

  test("pull from an ffmpeg SRT listener source → onPublish (protocol pull); removing it stops the process", async () => {
    const srcPort = range.to; // the last port of our window; the server took the first one
    const source = serveSrtListener(srcPort, 30);
    const pull = makeStream({ source: `srt://127.0.0.1:${srcPort}` });
    specs = [srt.spec, pull.spec];
    await server.configure(specs);
    await server.configure(specs); // idempotent: no second process
    // The SRT listener of the previous test may still be restarting after its publisher left.
    await waitFor("SRT listener and pull process", () => server.processes().length >= 2, 10000);
    expect(server.processes().length).toBe(2);
    const ev = await waitFor(
      "pull onPublish",
      () => published.find((e) => e.streamId === pull.spec.id),
      25000,
    );
    expect(ev.protocol).toBe("pull");
    const p = await probe(ev.inputUrl);
    expect(p.streams.find((s) => s.codec_type === "video")).toMatchObject({ width: 160, height: 90 });
    const pids = server.processes();
    specs = [srt.spec];
    await server.configure(specs);
    expect(server.processes().length).toBe(1);
    await waitFor("pull onUnpublish", () => unpublished.find((e) => e.streamId === pull.spec.id), 10000);
    expect(pids.filter(isAlive).length).toBe(1);
    await source.stop();
  }, 60000);

  test("pull from an RTMP source (another embedded server) → onPublish; source ends → onUnpublish; retried", async () => {
    // The source is a second RTMP server that an ffmpeg publisher feeds.
    const upstreamStream = makeStream();
    const upstream = new EmbeddedMediaServer({
      rtmpPort: 0,
      bindHost: "127.0.0.1",
      logger: testLogger,
      authority: createKeyAuthority({ local: () => [upstreamStream.spec], nodeId: "up", logger: testLogger }),
    });
    await upstream.start();
    await upstream.configure([upstreamStream.spec]);
    try {
      const feed = publishRtmp(`rtmp://127.0.0.1:${upstream.rtmpPort()}/live/${upstreamStream.key}`, 6);
      await waitFor("upstream live", () => upstream.active().length === 1, 15000);
      const pull = makeStream({
        source: `rtmp://127.0.0.1:${upstream.rtmpPort()}/live/${upstreamStream.spec.id}`,
      });
      specs = [pull.spec];
      await server.configure(specs);
      const ev = await waitFor(
        "rtmp pull onPublish",
        () => published.find((e) => e.streamId === pull.spec.id),
        20000,
      );
      expect(ev.protocol).toBe("pull");
      expect(server.active().some((e) => e.streamId === pull.spec.id)).toBe(true);
      await feed.done;
      await waitFor(
        "rtmp pull onUnpublish",
        () => unpublished.find((e) => e.streamId === pull.spec.id),
        20000,
      );
      // The pull keeps retrying with back-off while the source is gone.
      const proc = server.processes();
      expect(proc.length).toBeLessThanOrEqual(1);
    } finally {
      await upstream.stop();
    }
  }, 60000);

  test("stop() leaves no child process behind", async () => {
    const srt2 = makeSrtStream();
    specs = [srt.spec, srt2.spec, makeStream({ source: "rtmp://127.0.0.1:9/live/nothing" }).spec];
    await server.configure(specs);
    await waitFor("three relays", () => server.processes().length === 3, 10000);
    const pids = server.processes();
    expect(new Set([server.srtPort(srt.spec.id), server.srtPort(srt2.spec.id)]).size).toBe(2);
    await server.stop();
    expect(server.processes()).toEqual([]);
    expect(pids.filter(isAlive)).toEqual([]);
  }, 30000);
});
