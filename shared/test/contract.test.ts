import { describe, expect, test } from "bun:test";
import { decodeMessage, MAX_MESSAGE_BYTES, validate } from "../src/codec.ts";
import { BUILTIN_PROFILES } from "../src/profile/builtin.ts";
import { profileCost } from "../src/profile/cost.ts";
import { validateProfile } from "../src/profile/validate.ts";
import { NodeState, Route } from "../src/schemas/mqtt.ts";
import { ProfileSpec } from "../src/schemas/profile.ts";
import { filters, parseTopic, topics } from "../src/topics.ts";

describe("topics", () => {
  test("builders and parser agree", () => {
    expect(topics.nodeAnnounce("n1")).toBe("dionysia/v1/nodes/n1/announce");
    expect(parseTopic(topics.nodeTelemetry("n-2"))).toEqual({ kind: "nodeTelemetry", nodeId: "n-2" });
    expect(topics.streamStatus("n1", "abc")).toBe("dionysia/v1/nodes/n1/streams/abc/status");
    expect(parseTopic(topics.streamStatus("n1", "abc"))).toEqual({
      kind: "streamStatus",
      nodeId: "n1",
      streamId: "abc",
    });
    expect(parseTopic("dionysia/v1/streams/abc/status")).toBeUndefined();
    expect(parseTopic(topics.route("abc"))).toEqual({ kind: "route", streamId: "abc" });
    expect(parseTopic("dionysia/v1/nodes/../announce")).toBeUndefined();
    expect(parseTopic("other/topic")).toBeUndefined();
    expect(filters.allRoutes).toBe("dionysia/v1/routes/+");
  });
});

describe("codec", () => {
  test("accepts a valid message", () => {
    const r = decodeMessage(NodeState, JSON.stringify({ state: "online", ts: 1 }));
    expect(r).toEqual({ ok: true, value: { state: "online", ts: 1 } });
  });

  test("drops garbage, truncated, wrong-shape, non-UTF-8 and oversized payloads without throwing", () => {
    const route = JSON.stringify({ id: "s1", policy: "public", origins: [] });
    const bad: (string | Uint8Array)[] = [
      "",
      "not json",
      route.slice(0, 10),
      JSON.stringify({ id: "s1", policy: "nope", origins: [] }),
      JSON.stringify({ id: "../etc", policy: "public", origins: [] }),
      new Uint8Array([0xff, 0xfe, 0x00]),
      "x".repeat(MAX_MESSAGE_BYTES + 1),
    ];
    for (const p of bad) {
      const r = decodeMessage(Route, p);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.length).toBeGreaterThan(0);
    }
    expect(decodeMessage(Route, route).ok).toBe(true);
  });
});

describe("profiles", () => {
  test("every built-in passes schema and semantic validation", () => {
    for (const [id, p] of Object.entries(BUILTIN_PROFILES)) {
      expect({ id, err: validate(ProfileSpec, p) }).toEqual({ id, err: undefined });
      expect({ id, problems: validateProfile(p) }).toEqual({ id, problems: [] });
    }
  });

  test("semantic validation reports every problem", () => {
    const problems = validateProfile({
      name: "bad",
      renditions: [
        { name: "a", codec: "h264", width: 641, height: 360, bitrateKbps: 800 },
        { name: "a", codec: "h264", width: 640, height: 360 },
        { name: "b", codec: "h264", width: 3840, height: 2160, bitrateKbps: 50 },
      ],
      audio: null,
      segmentDuration: 2,
      partDuration: 0.3,
      formats: ["ll-hls", "dash"],
      container: "ts",
    });
    const paths = problems.map((p) => p.path);
    expect(paths).toContain("/renditions/0/width");
    expect(paths).toContain("/renditions/1/name");
    expect(paths).toContain("/renditions/1/bitrateKbps");
    expect(paths).toContain("/renditions/2/bitrateKbps");
    expect(paths).toContain("/partDuration");
    expect(paths).toContain("/container");
  });

  test("empty profile is refused", () => {
    const problems = validateProfile({
      name: "x",
      renditions: [],
      audio: null,
      segmentDuration: 2,
      formats: ["hls"],
    });
    expect(problems.map((p) => p.message)).toContain("needs at least one rendition or audio");
  });

  test("cost follows pixel rate", () => {
    const p720 = BUILTIN_PROFILES["builtin-720p"]!;
    const p1080 = BUILTIN_PROFILES["builtin-1080p"]!;
    // 1280x720 + 854x480 + 640x360 at 30 fps, plus audio.
    expect(profileCost(p720)).toBeCloseTo(((1280 * 720 + 854 * 480 + 640 * 360) * 30) / 1e6 + 0.25, 2);
    expect(profileCost(p1080)).toBeGreaterThan(profileCost(p720));
    expect(profileCost(BUILTIN_PROFILES["builtin-passthrough"]!)).toBeLessThan(1);
  });
});
