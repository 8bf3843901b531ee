/** The console's pure view rules (control/console/src/model.ts). */
import { describe, expect, test } from "bun:test";
import { hlsOptions, ladderText, nodeClass, nodeRadius } from "../console/src/model.ts";

describe("console model", () => {
  test("hls.js runs in low-latency mode exactly when the profile packages LL-HLS", () => {
    expect(hlsOptions({ formats: ["hls", "ll-hls"] }).lowLatencyMode).toBe(true);
    expect(hlsOptions({ formats: ["hls", "dash"] }).lowLatencyMode).toBe(false);
    expect(hlsOptions(undefined).lowLatencyMode).toBe(false);
  });

  test("a node's map colour: offline wins, then cordoned or draining", () => {
    expect(nodeClass({ state: "offline", cordoned: true, draining: false })).toBe("offline");
    expect(nodeClass({ state: "online", cordoned: false, draining: true })).toBe("cordoned");
    expect(nodeClass({ state: "online", cordoned: true, draining: false })).toBe("cordoned");
    expect(nodeClass({ state: "online", cordoned: false, draining: false })).toBe("online");
  });

  test("a node's size follows its share of the load budget, bounded", () => {
    const n = (used: number, loadUnits: number) => ({
      load: { used, cpu: 0, ingressBps: 0, egressBps: 0, streams: 0 },
      capacity: { loadUnits },
    });
    expect(nodeRadius(n(0, 200))).toBe(5);
    expect(nodeRadius(n(100, 200))).toBe(12.5);
    expect(nodeRadius(n(500, 200))).toBe(20);
    expect(nodeRadius(n(10, 0))).toBe(5);
  });

  test("the served ladder names the requested one when rungs were dropped", () => {
    expect(ladderText({ ladder: { requested: ["720p", "480p"], served: ["720p", "480p"] } })).toBe(
      "720p, 480p",
    );
    expect(ladderText({ ladder: { requested: ["720p", "480p"], served: ["480p"] } })).toBe(
      "480p (of 720p, 480p)",
    );
    expect(ladderText({ ladder: { requested: ["720p"], served: [] } })).toBe("– (of 720p)");
  });
});
