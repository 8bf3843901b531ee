import { describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { DEFAULT_PART_DURATION, partDurationOf, validateProfile } from "../src/profile/validate.ts";
import { type ProfileSpec, ProfileSpec as ProfileSpecSchema } from "../src/schemas/profile.ts";

const base: ProfileSpec = {
  name: "ll",
  renditions: [{ name: "360p", codec: "h264", width: 640, height: 360, bitrateKbps: 800 }],
  audio: null,
  segmentDuration: 2,
  formats: ["ll-hls", "dash"],
};

const partProblems = (p: Partial<ProfileSpec>) =>
  validateProfile({ ...base, ...p }).filter((x) => x.path === "/partDuration");

describe("partDuration", () => {
  test("defaults to 0.5 s, and an ll-hls profile without one is valid", () => {
    expect(DEFAULT_PART_DURATION).toBe(0.5);
    expect(partDurationOf(base)).toBe(0.5);
    expect(partDurationOf({ partDuration: 0.25 })).toBe(0.25);
    expect(validateProfile(base)).toEqual([]);
  });

  test.each([
    [2, 0.5],
    [2, 0.25],
    [2, 2],
    [1, 0.2],
    [3, 0.3],
    [6, 0.6],
    [1, 0.1],
  ])("segment %p s with parts of %p s: valid", (segmentDuration, partDuration) => {
    expect(partProblems({ segmentDuration, partDuration })).toEqual([]);
  });

  test.each([
    [2, 0.3, "whole multiple"],
    [2, 0.7, "whole multiple"],
    [1, 1.5, "must not exceed"],
    [1.25, undefined, "whole multiple of the default"],
  ])("segment %p s with parts of %p s: refused (%s)", (segmentDuration, partDuration, message) => {
    const problems = partProblems({ segmentDuration, partDuration });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toContain(message);
  });

  test("no ll-hls and no partDuration: nothing to check", () => {
    expect(partProblems({ segmentDuration: 1.25, formats: ["hls"] })).toEqual([]);
  });

  test("the schema bounds: 0.1 s to 2 s, a number", () => {
    expect(Value.Check(ProfileSpecSchema, { ...base, partDuration: 0.5 })).toBe(true);
    expect(Value.Check(ProfileSpecSchema, { ...base, partDuration: 0 })).toBe(false);
    expect(Value.Check(ProfileSpecSchema, { ...base, partDuration: -1 })).toBe(false);
    expect(Value.Check(ProfileSpecSchema, { ...base, partDuration: 2.5 })).toBe(false);
    expect(Value.Check(ProfileSpecSchema, { ...base, partDuration: "0.5" })).toBe(false);
  });
});
