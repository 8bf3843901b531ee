import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { BUILTIN_PROFILES, profileCost } from "@dionysia/shared";
import { FFMPEG_INSTALL, findBinary, reportSkip } from "@dionysia/shared/testkit";
import {
  CALIBRATION_MPX_PER_FRAME,
  calibrationArgs,
  capacityFromCpu,
  measureCapacity,
  parseProgressFrames,
  resolveCapacity,
} from "../src/agent/capacity.ts";
import { CapacityCorrection, capacityMoved } from "../src/agent/capacity-correction.ts";
import { parseCgroupCpuMax, parseProcStatCpu, processCpuSeconds, usableCores } from "../src/proc-cpu.ts";

const ffmpeg = findBinary("ffmpeg");
const hasFfmpeg =
  ffmpeg !== undefined &&
  spawnSync(ffmpeg, ["-hide_banner", "-encoders"], { encoding: "utf8" }).stdout?.includes("libx264");
if (!hasFfmpeg)
  reportSkip(
    "origin/test/agent-capacity.test.ts (real calibration encode)",
    `ffmpeg with libx264 not found (${FFMPEG_INSTALL})`,
  );

const ladder = BUILTIN_PROFILES["builtin-720p"]!;

describe("capacity from CPU time", () => {
  test("CPU-seconds per output megapixel × cores become load units in the unit of profile cost", () => {
    // The calibration work is the default ladder's video: 1280x720 + 854x480 + 640x360 per frame.
    expect(CALIBRATION_MPX_PER_FRAME).toBeCloseTo(1.5619, 4);
    const videoCost = profileCost({ ...ladder, audio: null });
    expect(CALIBRATION_MPX_PER_FRAME * 30).toBeCloseTo(videoCost, 2);
    // A host that spends exactly one core-second on one second of that ladder (30 frames):
    const one = capacityFromCpu({ cpuSeconds: 1, frames: 30, cores: 1, safety: 1 });
    expect(one.loadUnits).toBeCloseTo(videoCost, 1);
    // Twice the cores, twice the capacity; 20 % headroom by default.
    expect(capacityFromCpu({ cpuSeconds: 1, frames: 30, cores: 2, safety: 1 }).loadUnits).toBeCloseTo(
      2 * videoCost,
      1,
    );
    expect(capacityFromCpu({ cpuSeconds: 1, frames: 30, cores: 2 }).loadUnits).toBe(75);
    expect(() => capacityFromCpu({ cpuSeconds: 0, frames: 30, cores: 2 })).toThrow();
    expect(() => capacityFromCpu({ cpuSeconds: 1, frames: 0, cores: 2 })).toThrow();
  });

  test("this repository's numbers: 1.27 CPU-s per media second on 2 cores fits the 720p ladder", () => {
    // Measured on the 2-core development box (docs/benchmarks.md): 15.2 CPU-s for 12 s of ladder.
    const c = capacityFromCpu({ cpuSeconds: 15.2, frames: 360, cores: 2 });
    expect(c.loadUnits).toBeGreaterThan(profileCost(ladder));
    expect(c.loadUnits).toBeLessThan(2 * profileCost(ladder));
  });

  test("the calibration command encodes the ladder with the live command's encoder flags", () => {
    const args = calibrationArgs().join(" ");
    expect(args).toContain("testsrc2=size=1280x720:rate=30");
    expect(args).toContain("scale=1280:720");
    expect(args).toContain("scale=854:480");
    expect(args).toContain("scale=640:360");
    expect(args).toContain("-preset:v:2 veryfast");
    expect(args).toContain("-sc_threshold:v:0 0");
    expect(args).toEndWith("-f null -progress pipe:1 -stats_period 0.25 -");
  });

  test("parses ffmpeg -progress blocks", () => {
    const chunk = "frame=10\nfps=0.0\nprogress=continue\nframe=25\nspeed=1x\nprogress=continue\nframe=30\n";
    expect(parseProgressFrames(chunk)).toEqual([10, 25]);
    expect(parseProgressFrames("garbage\n=\nprogress=end\n")).toEqual([]);
  });

  test("/proc stat and cgroup quota parsing", () => {
    // The command name may hold spaces and parentheses; utime=250 stime=50 ticks → 3 s.
    const stat = "1234 (ff (x) mpeg) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 3 0 5 0 0";
    expect(parseProcStatCpu(stat)).toBe(3);
    expect(parseProcStatCpu("garbage")).toBeUndefined();
    expect(parseCgroupCpuMax("max 100000\n")).toBeUndefined();
    expect(parseCgroupCpuMax("150000 100000\n")).toBe(1.5);
    expect(usableCores()).toBeGreaterThan(0);
    expect(processCpuSeconds(process.pid)).toBeGreaterThanOrEqual(0);
    expect(processCpuSeconds(2 ** 30)).toBeUndefined();
  });

  test("an operator override wins; a failed calibration falls back", async () => {
    expect(await resolveCapacity(42, 20)).toEqual({ loadUnits: 42, measured: false });
    expect(await resolveCapacity(undefined, 20, { ffmpeg: "/nonexistent/ffmpeg", durationMs: 500 })).toEqual({
      loadUnits: 20,
      measured: false,
    });
  });
});

describe("live correction", () => {
  const run = (id: string, runId: string, cost: number, cpu: number, media: number) => ({
    id,
    runId,
    cost,
    cpuSeconds: cpu,
    mediaSeconds: media,
  });

  test("streams costing what the calibration predicts leave capacity alone", () => {
    const c = new CapacityCorrection({ calibrated: 60, cpuSecondsPerMpx: 0.02 });
    // 47.1 units × 0.02 CPU-s per unit-second = 0.942 CPU-s per media second.
    for (let t = 0; t <= 300; t += 10) c.observe([run("a", "r1", 47.1, 0.942 * t, t)]);
    expect(c.samples).toBe(30);
    expect(c.factor).toBeCloseTo(1, 6);
    expect(c.capacity).toBe(60);
  });

  test("streams costing 1.5x move the factor towards 1.5, bounded, and capacity down", () => {
    const c = new CapacityCorrection({ calibrated: 60, cpuSecondsPerMpx: 0.02 });
    c.observe([run("a", "r1", 10, 0, 0)]);
    c.observe([run("a", "r1", 10, 3, 10)]); // 0.3 CPU-s per media-s where 0.2 was predicted
    expect(c.factor).toBeGreaterThan(1);
    expect(c.factor).toBeLessThan(1.1); // one 10 s sample moves a 120 s average by ~8 %
    for (let t = 20; t <= 1200; t += 10) c.observe([run("a", "r1", 10, 0.3 * t, t)]);
    expect(c.factor).toBeCloseTo(1.5, 2);
    expect(c.capacity).toBe(40);
    expect(capacityMoved(60, c.capacity)).toBe(true);
    expect(capacityMoved(60, 58)).toBe(false);

    // A wildly expensive stream cannot push the factor past its bound.
    for (let t = 1210; t <= 5000; t += 10) c.observe([run("a", "r1", 10, 0.3 * 1200 + 5 * (t - 1200), t)]);
    expect(c.factor).toBe(2);
    expect(c.capacity).toBe(30);
  });

  test("restarts, short deltas, missing counters and near-free streams are not samples", () => {
    const c = new CapacityCorrection({ calibrated: 60, cpuSecondsPerMpx: 0.02 });
    c.observe([run("a", "r1", 10, 0, 0), run("copy", "r1", 0.75, 0, 0)]);
    c.observe([run("a", "r1", 10, 1, 5)]); // 5 s: not enough media yet
    c.observe([run("a", "r2", 10, 1, 12)]); // new run: counters start over
    c.observe([run("a", "r2", 10, 9, 20), run("copy", "r1", 0.75, 50, 100)]);
    c.observe([{ id: "b", runId: "x", cost: 10, cpuSeconds: undefined, mediaSeconds: 3 }]);
    expect(c.samples).toBe(0);
    expect(c.factor).toBe(1);
  });
});

describe.skipIf(!hasFfmpeg)("real calibration encode", () => {
  test("the ladder encode measures CPU per megapixel over at least 90 frames", async () => {
    const r = await measureCapacity({ durationMs: 1500 });
    expect(r.measured).toBe(true);
    expect(r.method).toBe("proc");
    expect(r.frames).toBeGreaterThanOrEqual(90);
    expect(r.cpuSeconds).toBeGreaterThan(0.5);
    expect(r.cores).toBe(usableCores());
    // Consistent with the conversion math.
    expect(r.loadUnits).toBeCloseTo(capacityFromCpu(r).loadUnits, 0);
    console.log(
      `calibration: ${r.loadUnits} load units (${r.cpuSecondsPerMpx} CPU-s/Mpx, ${r.cores} cores; wall-clock would say ${r.wallLoadUnits})`,
    );
  }, 60_000);
});
