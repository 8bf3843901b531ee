import { describe, expect, test } from "bun:test";
import {
  advancePartLimit,
  decideReload,
  type PartSource,
  parseReloadQuery,
  type ReloadState,
  waitForPart,
} from "../../src/packager/blocking.ts";
import { windowWith } from "./window-fixture.ts";

const q = (s: string) => {
  const p = new URLSearchParams(s);
  return parseReloadQuery((n) => p.get(n));
};

/** Window after 10 parts of 0.5 s: segments 0 and 1 complete, segment 2 open with parts 0..1. */
const state = (parts = 10): ReloadState => ({
  last: windowWith(parts).last(),
  partTarget: 0.5,
  segmentDuration: 2,
});

const decide = (query: string, s = state()) => {
  const parsed = q(query);
  if ("bad" in parsed) return { kind: "bad" as const, reason: parsed.bad };
  return decideReload(parsed, s);
};

describe("parseReloadQuery", () => {
  test("decimal integers, and _HLS_skip YES or v2", () => {
    expect(q("_HLS_msn=12&_HLS_part=3&_HLS_skip=YES")).toEqual({ msn: 12, part: 3, skip: true });
    expect(q("_HLS_skip=v2")).toEqual({ skip: true });
    expect(q("")).toEqual({ skip: false });
  });

  test.each([
    "_HLS_msn=-1",
    "_HLS_msn=1.5",
    "_HLS_msn=abc",
    "_HLS_msn=",
    "_HLS_msn=01",
    "_HLS_msn=1&_HLS_part=x",
    "_HLS_part=1",
    "_HLS_skip=yes",
    "_HLS_msn=99999999999999999",
  ])("%s is malformed (400)", (s) => {
    expect(q(s)).toHaveProperty("bad");
  });
});

describe("decideReload", () => {
  test("no _HLS_msn: answer now", () => {
    expect(decide("")).toEqual({ kind: "now", skip: false });
    expect(decide("_HLS_skip=YES")).toEqual({ kind: "now", skip: true });
  });

  test("a part already written: answer now", () => {
    expect(decide("_HLS_msn=2&_HLS_part=1").kind).toBe("now");
    expect(decide("_HLS_msn=1&_HLS_part=3").kind).toBe("now");
    expect(decide("_HLS_msn=1").kind).toBe("now");
    expect(decide("_HLS_msn=0&_HLS_part=9").kind).toBe("now");
  });

  test("the next part, or the open segment as a whole: hold", () => {
    expect(decide("_HLS_msn=2&_HLS_part=2&_HLS_skip=YES")).toEqual({
      kind: "hold",
      msn: 2,
      part: 2,
      skip: true,
    });
    expect(decide("_HLS_msn=2")).toEqual({ kind: "hold", msn: 2, part: undefined, skip: false });
    expect(decide("_HLS_msn=3&_HLS_part=0").kind).toBe("hold");
  });

  test("after a complete segment, part 0 of the next one is one part ahead", () => {
    expect(decide("_HLS_msn=2&_HLS_part=0", state(8))).toEqual({
      kind: "hold",
      msn: 2,
      part: 0,
      skip: false,
    });
    // A part index past the end of a complete segment waits for the next segment's first part.
    expect(decide("_HLS_msn=1&_HLS_part=4", state(8)).kind).toBe("hold");
  });

  test("more than two segments ahead: 400", () => {
    expect(decide("_HLS_msn=4").kind).toBe("hold");
    expect(decide("_HLS_msn=5")).toMatchObject({ kind: "bad" });
  });

  test("beyond the advance part limit (3 / PART-TARGET parts for targets under 1 s): 400", () => {
    expect(advancePartLimit(0.5)).toBe(6);
    expect(advancePartLimit(1.5)).toBe(3);
    // Newest is (2, 1): (2, 7) is 6 parts ahead, (2, 8) is 7.
    expect(decide("_HLS_msn=2&_HLS_part=7").kind).toBe("hold");
    expect(decide("_HLS_msn=2&_HLS_part=8")).toMatchObject({ kind: "bad" });
    // (3, 3): the rest of segment 2 (2 parts) + 4 = 6 ahead; (3, 4) is 7.
    expect(decide("_HLS_msn=3&_HLS_part=3").kind).toBe("hold");
    expect(decide("_HLS_msn=3&_HLS_part=4")).toMatchObject({ kind: "bad" });
  });

  test("before the first part: hold for the first segments, 400 past them", () => {
    const empty: ReloadState = { partTarget: 0.5, segmentDuration: 2 };
    expect(decide("_HLS_msn=0&_HLS_part=0", empty).kind).toBe("hold");
    expect(decide("_HLS_msn=1", empty).kind).toBe("hold");
    expect(decide("_HLS_msn=2", empty).kind).toBe("bad");
  });
});

/** A part source driven by hand. */
function manualSource() {
  const listeners = new Set<() => void>();
  const src = {
    parts: 0,
    isEnded: false,
    has: (msn: number, part?: number) => msn * 4 + (part ?? 3) < src.parts,
    subscribe(l: () => void) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    write() {
      src.parts++;
      for (const l of [...listeners]) l();
    },
    listeners,
  };
  return src satisfies PartSource;
}

describe("waitForPart", () => {
  test("resolves at once for a written part, on the write for a future one", async () => {
    const src = manualSource();
    src.parts = 2;
    expect(await waitForPart(src, 0, 1, 1000)).toBe(true);
    const waiting = waitForPart(src, 0, 2, 5000);
    const t0 = performance.now();
    setTimeout(() => src.write(), 50);
    expect(await waiting).toBe(true);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(src.listeners.size).toBe(0);
  });

  test("false after the timeout, at the end of the stream, or when aborted", async () => {
    const src = manualSource();
    expect(await waitForPart(src, 1, 0, 30)).toBe(false);
    const ended = waitForPart(src, 1, 0, 5000);
    src.isEnded = true;
    src.write();
    expect(await ended).toBe(false);
    src.isEnded = false;
    const ac = new AbortController();
    const aborted = waitForPart(src, 3, 0, 5000, ac.signal);
    ac.abort();
    expect(await aborted).toBe(false);
    expect(src.listeners.size).toBe(0);
  });
});
