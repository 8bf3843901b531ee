/**
 * Track detection of the embedded RTMP server, as pure logic: what counts as complete, and that
 * the watch always reports (nothing waits forever). The real-ffmpeg cases are in
 * media-embedded-rtmp.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { waitFor } from "@dionysia/shared/testkit";
import {
  declaredTracks,
  initialTrackState,
  observePacket,
  TrackWatch,
  tracksComplete,
} from "../src/media/embedded/tracks.ts";
import type { InputTracks } from "../src/media/types.ts";

const audio = { codec_type: 8, codec_id: 10, flags: 0, data: Buffer.from([0xaf, 0]) };
const video = { codec_type: 9, codec_id: 7, flags: 2, data: Buffer.from([0x17, 0]) };

describe("embedded RTMP: track detection", () => {
  test("without metadata only audio+video is complete; one track waits for the timer", () => {
    let s = observePacket(initialTrackState(), video);
    expect(s.seen).toEqual({ video: true, audio: false });
    expect(tracksComplete(s)).toBe(false);
    s = observePacket(s, audio);
    expect(tracksComplete(s)).toBe(true);
    expect(tracksComplete(initialTrackState())).toBe(false);
  });

  test("the declared frame rate comes with the tracks (gpac's low latency needs it, ADR 0099)", () => {
    expect(declaredTracks({ videocodecid: 7, audiocodecid: 10, framerate: 30 })).toEqual({
      video: true,
      audio: true,
      frameRate: 30,
    });
    // Older encoders' name; nonsense and audio-only declarations carry no rate.
    expect(declaredTracks({ videocodecid: 7, videoframerate: 25 })?.frameRate).toBe(25);
    expect(declaredTracks({ videocodecid: 7, framerate: "fast" })?.frameRate).toBeUndefined();
    expect(declaredTracks({ videocodecid: 7, framerate: 1e6 })?.frameRate).toBeUndefined();
    expect(declaredTracks({ audiocodecid: 10, framerate: 30 })?.frameRate).toBeUndefined();
  });

  test("unreadable metadata is ignored, not thrown", () => {
    const s = observePacket(initialTrackState(), {
      codec_type: 18,
      flags: 5,
      data: Buffer.from([0xff, 1, 2]),
    });
    expect(s.declared).toBeUndefined();
  });

  test("one track and no more packets → reported after settleMs with what was seen", async () => {
    const got: { done: boolean; tracks?: InputTracks } = { done: false };
    const w = new TrackWatch(
      (t) => {
        got.done = true;
        got.tracks = t;
      },
      { settleMs: 50, maxWaitMs: 5000 },
    );
    w.packet(video);
    expect(got.done).toBe(false);
    await waitFor("settled", () => got.done, 2000);
    expect(got.tracks).toEqual({ video: true, audio: false });
  });

  test("no media at all → undefined after maxWaitMs (the supervisor probes)", async () => {
    let calls = 0;
    let got: InputTracks | undefined | "none" = "none";
    new TrackWatch(
      (t) => {
        calls++;
        got = t;
      },
      { maxWaitMs: 80 },
    );
    await waitFor("gave up", () => calls > 0, 2000);
    expect(got).toBeUndefined();
    expect(calls).toBe(1);
  });
});
