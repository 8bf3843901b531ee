/** The supervisor's overload rules, pure: slow vs stuck, windowed speed, shed steps, recovery. */
import { describe, expect, test } from "bun:test";
import { BUILTIN_PROFILES, profileCost } from "@dionysia/shared";
import {
  canRecover,
  classifyRun,
  type HealthInput,
  maxShedLevel,
  type ProgressSample,
  shedProfile,
  trimSamples,
  windowedSpeed,
} from "../src/supervisor/overload.ts";

const base: HealthInput = {
  now: 100_000,
  startedAt: 0,
  segmentDurationSec: 2,
  stallFactor: 3,
  startupGraceMs: 15_000,
  slowBelow: 0.9,
};

describe("slow or stuck", () => {
  test("segments on time and speed at real time: ok", () => {
    expect(classifyRun({ ...base, lastSegmentAt: 99_000, lastProgressAt: 99_900, speed: 1.0 })).toBe("ok");
    // Speed unknown yet (window not filled): judged by output alone.
    expect(classifyRun({ ...base, lastSegmentAt: 99_000, lastProgressAt: 99_900 })).toBe("ok");
  });

  test("segments still coming but the encoder behind real time: slow", () => {
    expect(classifyRun({ ...base, lastSegmentAt: 98_000, lastProgressAt: 99_900, speed: 0.6 })).toBe("slow");
    // Segments overdue (no new one in 3 x 2 s) while frames still come: slow, not stuck.
    expect(classifyRun({ ...base, lastSegmentAt: 90_000, lastProgressAt: 99_500 })).toBe("slow");
  });

  test("no output at all for the stall window: stuck", () => {
    expect(classifyRun({ ...base, lastSegmentAt: 90_000, lastProgressAt: 90_000, speed: 0.95 })).toBe(
      "stuck",
    );
    // Frames advance but no segment for 4 windows: the muxer is wedged.
    expect(classifyRun({ ...base, lastSegmentAt: 75_000, lastProgressAt: 99_500, speed: 1 })).toBe("stuck");
  });

  test("before the first segment the start-up grace applies", () => {
    const start = { ...base, startedAt: 90_000 };
    expect(classifyRun({ ...start })).toBe("ok"); // 10 s < 6 s + 15 s grace
    expect(classifyRun({ ...start, now: 112_000 })).toBe("stuck"); // nothing at all for 22 s
    expect(classifyRun({ ...start, now: 112_000, lastProgressAt: 111_000 })).toBe("slow");
    // A heavy ladder is known to be slow from its speed long before its first segment.
    expect(classifyRun({ ...start, lastProgressAt: 99_800, speed: 0.2 })).toBe("slow");
  });
});

describe("windowed speed", () => {
  const samples = (pairs: [number, number][]): ProgressSample[] =>
    pairs.map(([at, outSec]) => ({ at, outSec }));

  test("media seconds per wall second over the window, not since the start", () => {
    // Real time for 20 s, then half speed for 10 s: ffmpeg's cumulative speed would say 0.83.
    const s: ProgressSample[] = [];
    for (let t = 0; t <= 20; t++) s.push({ at: t * 1000, outSec: t });
    for (let t = 21; t <= 30; t++) s.push({ at: t * 1000, outSec: 20 + (t - 20) * 0.5 });
    expect(windowedSpeed(s, 30_000, 8000)).toBeCloseTo(0.5, 5);
    expect(
      windowedSpeed(
        s.filter((x) => x.at <= 12_000),
        12_000,
        8000,
      ),
    ).toBeCloseTo(1, 5);
    trimSamples(s, 30_000, 8000);
    expect(s[0]!.at).toBeLessThanOrEqual(22_000);
    expect(windowedSpeed(s, 30_000, 8000)).toBeCloseTo(0.5, 5);
  });

  test("undefined until samples span most of the window", () => {
    expect(windowedSpeed([], 10_000, 8000)).toBeUndefined();
    expect(
      windowedSpeed(
        samples([
          [5000, 1],
          [9000, 5],
        ]),
        10_000,
        8000,
      ),
    ).toBeUndefined();
    expect(
      windowedSpeed(
        samples([
          [2000, 1],
          [9000, 8],
        ]),
        10_000,
        8000,
      ),
    ).toBeCloseTo(1, 5);
  });
});

describe("shed steps", () => {
  const ladder = BUILTIN_PROFILES["builtin-720p"]!;

  test("the most expensive rung goes first, never below one, then faster presets", () => {
    expect(shedProfile(ladder, 0)).toBe(ladder);
    expect(shedProfile(ladder, 1).renditions.map((r) => r.name)).toEqual(["480p", "360p"]);
    expect(shedProfile(ladder, 2).renditions.map((r) => r.name)).toEqual(["360p"]);
    expect(shedProfile(ladder, 3).renditions).toEqual([{ ...ladder.renditions[2]!, preset: "superfast" }]);
    expect(shedProfile(ladder, 4).renditions[0]!.preset).toBe("ultrafast");
    expect(maxShedLevel(ladder)).toBe(4);
    expect(shedProfile(ladder, 9).renditions[0]!.preset).toBe("ultrafast");
    // Audio and segment settings are kept; cost falls with each step.
    expect(shedProfile(ladder, 1).audio).toEqual(ladder.audio);
    expect(profileCost(shedProfile(ladder, 1))).toBeLessThan(profileCost(ladder));
  });

  test("order is by cost, not by position; copy rungs and audio-only profiles", () => {
    const p = {
      ...ladder,
      renditions: [
        { name: "small", codec: "h264" as const, width: 320, height: 180, preset: "ultrafast" as const },
        { name: "big", codec: "h264" as const, width: 1920, height: 1080, preset: "medium" as const },
      ],
    };
    expect(shedProfile(p, 1).renditions.map((r) => r.name)).toEqual(["small"]);
    expect(maxShedLevel(p)).toBe(1); // small is already ultrafast
    expect(maxShedLevel(BUILTIN_PROFILES["builtin-passthrough"]!)).toBe(0);
    expect(maxShedLevel(BUILTIN_PROFILES["builtin-audio"]!)).toBe(0);
  });
});

describe("recovery", () => {
  const r = {
    now: 100_000,
    shedAt: 0,
    holdMs: 30_000,
    ownCores: 0.4,
    idleCores: 1.2,
    costNow: 19.5,
    costBack: 47.1,
    margin: 0.8,
  };
  test("the step back must fit the CPU this run uses plus what is idle, with margin, after the hold", () => {
    // 0.4 cores x 47.1/19.5 = 0.97 cores needed; 1.6 x 0.8 = 1.28 available.
    expect(canRecover(r)).toBe(true);
    expect(canRecover({ ...r, now: 20_000 })).toBe(false);
    expect(canRecover({ ...r, idleCores: 0.6 })).toBe(false); // 0.97 > 0.8
    // Preset steps back count as 1.5x.
    expect(canRecover({ ...r, costBack: 19.5, idleCores: 0.4 })).toBe(true);
    expect(canRecover({ ...r, costBack: 19.5, idleCores: 0.3 })).toBe(false);
    expect(canRecover({ ...r, ownCores: 0 })).toBe(false);
  });
});
