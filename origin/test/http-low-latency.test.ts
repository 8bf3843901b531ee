/** The low-latency HTTP rules that are plain functions: cache lifetimes and run file names. */
import { describe, expect, test } from "bun:test";
import { playlistCacheControl } from "../src/http/low-latency.ts";
import { parseRunFile, runNaming } from "../src/supervisor/low-latency.ts";

describe("low-latency HTTP rules", () => {
  test("a blocking answer is cacheable for six parts; a plain reload not past the next part", () => {
    expect(playlistCacheControl(true, 0.5)).toBe("public, max-age=3");
    expect(playlistCacheControl(true, 0.2)).toBe("public, max-age=1");
    expect(playlistCacheControl(false, 0.5)).toBe("public, max-age=0");
  });

  test("run file names round-trip; anything else is not one", () => {
    const n = runNaming("mx6j3d5m");
    expect(parseRunFile(n.segment(12))).toEqual({ runId: "mx6j3d5m", msn: 12 });
    expect(parseRunFile(n.part(12, 3))).toEqual({ runId: "mx6j3d5m", msn: 12, part: 3 });
    for (const bad of [
      n.init,
      "seg-12.m4s",
      "part-x-1.m4s",
      "seg-a-1.m4s.tmp",
      "../seg-a-1.m4s",
      "seg-A-1.m4s",
    ])
      expect(parseRunFile(bad)).toBeUndefined();
  });
});
