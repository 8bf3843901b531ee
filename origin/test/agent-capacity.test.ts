import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { profileCost } from "@dionysia/shared";
import { FFMPEG_INSTALL, findBinary, reportSkip } from "@dionysia/shared/testkit";
import {
  capacityFromMeasurement,
  measureCapacity,
  parseProgressFrames,
  resolveCapacity,
} from "../src/agent/capacity.ts";

const ffmpeg = findBinary("ffmpeg");
const hasFfmpeg =
  ffmpeg !== undefined &&
  spawnSync(ffmpeg, ["-hide_banner", "-encoders"], { encoding: "utf8" }).stdout?.includes("libx264");
if (!hasFfmpeg)
  reportSkip(
    "origin/test/agent-capacity.test.ts (real calibration encode)",
    `ffmpeg with libx264 not found (${FFMPEG_INSTALL})`,
  );

describe("capacity conversion", () => {
  test("frames per second at a size become output megapixels per second (load units)", () => {
    // 640x360 encoded at 120 fps = 27.648 Mpx/s, i.e. one 1280x720@30 rendition.
    const r = capacityFromMeasurement({
      frames: 240,
      seconds: 2,
      width: 640,
      height: 360,
      fps: 30,
      safety: 1,
    });
    expect(r.mpxPerSecond).toBe(27.65);
    expect(r.loadUnits).toBe(27.6);
    expect(r.speed).toBe(4);
    const cost720 = profileCost({
      name: "x",
      renditions: [{ name: "720p", codec: "h264", width: 1280, height: 720, fps: 30, bitrateKbps: 2800 }],
      audio: null,
      segmentDuration: 2,
      formats: ["hls"],
    });
    expect(Math.abs(r.mpxPerSecond - cost720)).toBeLessThan(0.1);
    // The default safety factor keeps 20 % headroom.
    expect(
      capacityFromMeasurement({ frames: 240, seconds: 2, width: 640, height: 360, fps: 30 }).loadUnits,
    ).toBe(22.1);
    expect(() => capacityFromMeasurement({ frames: 10, seconds: 0, width: 1, height: 1, fps: 30 })).toThrow();
  });

  test("parses ffmpeg -progress blocks", () => {
    const chunk = "frame=10\nfps=0.0\nprogress=continue\nframe=25\nspeed=1x\nprogress=continue\nframe=30\n";
    expect(parseProgressFrames(chunk)).toEqual([10, 25]);
    expect(parseProgressFrames("garbage\n=\nprogress=end\n")).toEqual([]);
  });

  test("an operator override wins; a failed calibration falls back", async () => {
    expect(await resolveCapacity(42, 20)).toEqual({ loadUnits: 42, measured: false });
    expect(await resolveCapacity(undefined, 20, { ffmpeg: "/nonexistent/ffmpeg", durationMs: 500 })).toEqual({
      loadUnits: 20,
      measured: false,
    });
  });
});

describe.skipIf(!hasFfmpeg)("real calibration encode", () => {
  test("a short 640x360 libx264 encode measures a positive capacity", async () => {
    const t0 = Date.now();
    const r = await measureCapacity({ durationMs: 1500, warmupMs: 400 });
    const took = Date.now() - t0;
    expect(r.measured).toBe(true);
    expect(r.frames).toBeGreaterThan(0);
    expect(r.seconds).toBeGreaterThan(0.5);
    expect(r.loadUnits).toBeGreaterThan(0);
    // Consistent with the conversion math.
    expect(r.mpxPerSecond).toBeCloseTo(((r.frames / r.seconds) * 640 * 360) / 1e6, 1);
    expect(took).toBeLessThan(6000);
    console.log(`calibration: ${r.loadUnits} load units (${r.mpxPerSecond} Mpx/s, speed ${r.speed}x)`);
  });
});
