import { describe, expect, test } from "bun:test";
import { buildDesired } from "../src/mqtt/messages.ts";
import { SilenceDetector } from "../src/mqtt/silence.ts";
import { sampleDesiredStream } from "./helpers/mqttFixtures.ts";

describe("buildDesired", () => {
  test("sorts streams by id and validates", () => {
    const d = buildDesired("node-1", 7, [sampleDesiredStream("b"), sampleDesiredStream("a")]);
    expect(d.version).toBe(7);
    expect(d.nodeId).toBe("node-1");
    expect(d.streams.map((s) => s.id)).toEqual(["a", "b"]);
    expect(buildDesired("node-1", 0, []).streams).toEqual([]);
  });

  test("rejects duplicates and invalid values", () => {
    expect(() => buildDesired("n", 1, [sampleDesiredStream("a"), sampleDesiredStream("a")])).toThrow(/twice/);
    expect(() => buildDesired("n", -1, [])).toThrow(/version/);
    expect(() => buildDesired("n", 1, [sampleDesiredStream("a", { keyHash: "nothex" })])).toThrow(/keyHash/);
    expect(() => buildDesired("bad id", 1, [])).toThrow(/nodeId/);
  });
});

describe("SilenceDetector", () => {
  test("reports a node once after 3 silent intervals, and its return", () => {
    const d = new SilenceDetector(2000);
    d.seen("a", 0);
    d.seen("b", 0);
    expect(d.sweep(5999)).toEqual([]);
    d.seen("b", 5000);
    expect(d.sweep(6000)).toEqual(["a"]);
    expect(d.sweep(7000)).toEqual([]);
    expect(d.isSilent("a")).toBe(true);
    expect(d.seen("a", 7500)).toBe(true);
    expect(d.seen("a", 7600)).toBe(false);
    expect(d.sweep(11_000)).toEqual(["b"]);
    d.forget("a");
    expect(d.sweep(1e9)).toEqual([]);
  });

  test("after control's own broker outage every node gets a full timeout again", () => {
    const d = new SilenceDetector(500);
    d.seen("paris", 0);
    d.seen("ny", 400);
    // Control was disconnected from 600 to 2000: it heard nobody, which says nothing about them.
    d.rearm(2000);
    expect(d.sweep(3499)).toEqual([]);
    d.seen("ny", 3000);
    expect(d.sweep(3500)).toEqual(["paris"]);
  });
});
