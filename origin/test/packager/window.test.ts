import { describe, expect, test } from "bun:test";
import { LiveWindow } from "../../src/packager/window.ts";
import { T0, windowWith } from "./window-fixture.ts";

describe("LiveWindow", () => {
  test("four 0.5 s parts make one 2 s segment, closed on its last part", () => {
    const w = windowWith(5);
    const [s0, s1] = w.segments;
    expect(s0?.complete).toBe(true);
    expect(s0?.duration).toBe(2);
    expect(s0?.parts.map((p) => p.independent)).toEqual([true, false, false, false]);
    expect(s0?.parts.map((p) => p.offset)).toEqual([0, 1000, 2001, 3003]);
    expect(s0?.length).toBe(1000 + 1001 + 1002 + 1003);
    expect(s1?.complete).toBe(false);
    expect(s1?.parts.length).toBe(1);
    expect(w.last()).toEqual({ msn: 1, part: 0, complete: false });
    expect(w.nextPart()).toEqual({ msn: 1, part: 1, offset: 1004 });
  });

  test("program date time follows the media timeline from the first fragment's arrival", () => {
    const w = windowWith(9);
    // The first fragment arrived at T0 + 0.5 s holding 0.5 s of media: its first sample is T0.
    expect(w.segments.map((s) => s.programDateTime)).toEqual([T0, T0 + 2000, T0 + 4000]);
  });

  test("after a full segment the next part is part 0 of the next segment", () => {
    const w = windowWith(4);
    expect(w.last()).toEqual({ msn: 0, part: 3, complete: true });
    expect(w.nextPart()).toEqual({ msn: 1, part: 0, offset: 0 });
    expect(w.has(0)).toBe(true);
    expect(w.has(0, 3)).toBe(true);
    expect(w.has(0, 4)).toBe(false);
    expect(w.has(1, 0)).toBe(false);
  });

  test("audio (every fragment a sync sample): cut on the timeline, MSN for MSN with the video", () => {
    // AAC at 48 kHz: 0.5 s fragments come out as 24 frames = 0.512 s.
    const w = new LiveWindow({
      segmentDuration: 2,
      windowSize: 50,
      gopAligned: false,
      timelineAligned: true,
    });
    const frag = (1024 * 24) / 48000;
    for (let i = 0; i < 200; i++) {
      const f = {
        decodeTime: 10 + i * frag,
        duration: frag,
        independent: true,
        length: 10,
        arrivedAt: T0 + i * 512,
      };
      w.plan(f);
      w.add(f);
    }
    // Segment n ends within half a fragment of 10 + 2 (n + 1) s: no drift after 50 segments.
    const complete = w.segments.filter((x) => x.complete);
    expect(complete.length).toBeGreaterThan(45);
    for (const seg of complete) {
      const end = seg.decodeTime + seg.duration;
      expect(Math.abs(end - (10 + 2 * (seg.msn + 1)))).toBeLessThanOrEqual(frag / 2 + 1e-6);
    }
  });

  test("without GOP alignment a segment closes at the next keyframe", () => {
    const w = windowWith(5, { gopAligned: false });
    expect(w.segments[0]?.complete).toBe(true);
    expect(windowWith(4, { gopAligned: false }).segments[0]?.complete).toBe(false);
  });

  test("a keyframe late in a short GOP still cuts; a scene-change keyframe early does not", () => {
    const w = new LiveWindow({ segmentDuration: 2, windowSize: 6 });
    const add = (t: number, independent: boolean) =>
      w.add({ decodeTime: t, duration: 0.5, independent, length: 10, arrivedAt: T0 + t * 1000 });
    add(0, true);
    add(0.5, true); // scene cut 0.5 s in: stays in segment 0
    add(1, false);
    add(1.5, true); // 1.5 s ≥ 75 % of 2 s: starts segment 1
    expect(w.segments.map((s) => [s.msn, s.parts.length, s.complete])).toEqual([
      [0, 3, true],
      [1, 1, false],
    ]);
  });

  test("keeps windowSize + retain complete segments and reports the evicted ones", () => {
    const w = new LiveWindow({ segmentDuration: 2, windowSize: 3, retain: 1 });
    const evicted: number[] = [];
    for (let i = 0; i < 4 * 6; i++) {
      const r = w.add({
        decodeTime: i / 2,
        duration: 0.5,
        independent: i % 4 === 0,
        length: 1,
        arrivedAt: i,
      });
      evicted.push(...r.evicted.map((s) => s.msn));
    }
    expect(evicted).toEqual([0, 1]);
    expect(w.segments.map((s) => s.msn)).toEqual([2, 3, 4, 5]);
    expect(w.listed().map((s) => s.msn)).toEqual([3, 4, 5]);
  });

  test("end closes the open segment and leaves no next part", () => {
    const w = windowWith(6);
    const last = w.end();
    expect(last?.msn).toBe(1);
    expect(last?.complete).toBe(true);
    expect(last?.duration).toBe(1);
    expect(w.nextPart()).toBeUndefined();
  });
});
