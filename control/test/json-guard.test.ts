import { describe, expect, test } from "bun:test";
import { checkJsonShape, DEFAULT_JSON_LIMITS } from "../src/body/json-guard.ts";

const L = { maxDepth: 3, maxString: 5, maxItems: 3 };

describe("JSON shape guard (before JSON.parse)", () => {
  test("depth, string length and item counts", () => {
    expect(checkJsonShape('{"a":[[1]]}', L)).toEqual({ ok: true });
    expect(checkJsonShape('{"a":[[[1]]]}', L)).toMatchObject({ ok: false, reason: "depth" });
    expect(checkJsonShape('["abcde"]', L)).toEqual({ ok: true });
    expect(checkJsonShape('["abcdef"]', L)).toMatchObject({ ok: false, reason: "string" });
    expect(checkJsonShape('{"abcdef":1}', L)).toMatchObject({ ok: false, reason: "string" });
    expect(checkJsonShape("[1,2,3]", L)).toEqual({ ok: true });
    expect(checkJsonShape("[1,2,3,4]", L)).toMatchObject({ ok: false, reason: "items" });
    expect(checkJsonShape('{"a":1,"b":2,"c":3,"d":4}', L)).toMatchObject({ ok: false, reason: "items" });
    // Items are counted per container, not in total.
    expect(checkJsonShape("[[1,2,3],[1,2,3],[1,2,3]]", L)).toEqual({ ok: true });
  });

  test("brackets, commas and escaped quotes inside strings are not structure", () => {
    expect(checkJsonShape('["[[[[,,,,"]', { ...L, maxString: 20 })).toEqual({ ok: true });
    expect(checkJsonShape('["a\\"[[[[b"]', { ...L, maxString: 20 })).toEqual({ ok: true });
    expect(checkJsonShape('["a\\\\",[[[1]]]]', { ...L, maxString: 20 })).toMatchObject({ reason: "depth" });
    expect(checkJsonShape('["\\\\\\"x"]', L)).toEqual({ ok: true });
  });

  test("a 1 MB hostile body of any shape is scanned in well under 50 ms", () => {
    const mb = 1024 * 1024;
    const bodies = [
      "[".repeat(mb),
      JSON.stringify(Array.from({ length: 900 }, () => "x".repeat(1100))),
      JSON.stringify({ a: Array.from({ length: 999 }, (_, i) => ({ k: i, v: '\\"'.repeat(400) })) }),
      `"${"\\\\".repeat(mb / 2)}"`,
      ",".repeat(mb),
    ];
    for (const b of bodies) {
      const t0 = performance.now();
      checkJsonShape(b, DEFAULT_JSON_LIMITS);
      expect(performance.now() - t0).toBeLessThan(50);
    }
  });
});
