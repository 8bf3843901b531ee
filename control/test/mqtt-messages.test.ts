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
    // The owner sweeps every half interval (ControlBus); sweeps far apart would read as a stall.
    for (let t = 8000; t < 11_000; t += 1000) expect(d.sweep(t)).toEqual([]);
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

describe("SilenceDetector and control's own stalls", () => {
  test("a stall of control's loop longer than the timeout marks nobody silent", () => {
    const d = new SilenceDetector(2000); // timeout 6 s, sweeps every 1 s
    d.seen("a", 0);
    d.seen("b", 0);
    expect(d.sweep(1000)).toEqual([]);
    // Control's loop is blocked from 1 s to 30 s: no sweep, no message read.
    expect(d.sweep(30_000)).toEqual([]);
    expect(d.stalledTotalMs).toBe(30_000 - 1000 - 2000);
    // Their beats queued during the stall are read right after it.
    d.seen("a", 30_001);
    // b really is silent: declared once control has *heard* nothing from it for a full timeout
    // (1 s + 2 s of allowance before the stall, 3 s after it); a likewise, 6 s after its beat.
    const out: string[] = [];
    for (let t = 31_000; t <= 40_000; t += 1000) out.push(...d.sweep(t).map((id) => `${id}@${t}`));
    expect(out).toEqual(["b@33000", "a@37000"]);
  });

  test("a late sweep discounts only its lateness; normal cadence counts nothing", () => {
    const d = new SilenceDetector(2000);
    d.seen("a", 0);
    for (let t = 1000; t <= 3000; t += 1000) expect(d.sweep(t)).toEqual([]);
    expect(d.stalledTotalMs).toBe(0);
    // 4 s late (6 s gap, 2 s allowed): a has been heard silent for 9 - 4 = 5 s of a 6 s timeout.
    expect(d.sweep(9000)).toEqual([]);
    expect(d.stalledTotalMs).toBe(4000);
    expect(d.sweep(10_000)).toEqual(["a"]);
  });
});
