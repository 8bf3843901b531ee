import { describe, expect, test } from "bun:test";
import { ConfigError, describeConfig, loadConfig, optional, redactConfig, v } from "../src/config.ts";

const spec = {
  port: v.port("X_PORT", { default: 8080, doc: "HTTP port" }),
  url: v.url("X_URL", { protocols: ["http", "https"] }),
  key: optional(v.secret("X_KEY")),
  mode: v.enumOf("X_MODE", ["a", "b"] as const, { default: "a" }),
  ratio: v.number("X_RATIO", { min: 0, max: 1, default: 0.5 }),
  on: v.bool("X_ON", { default: false }),
  range: v.portRange("X_RANGE", { default: { from: 10, to: 20 } }),
  tags: v.list("X_TAGS", { default: [] }),
};

describe("loadConfig", () => {
  test("applies defaults and parses values", () => {
    const c = loadConfig(spec, { X_URL: "http://x", X_ON: "yes", X_TAGS: "a, b,,c", X_RANGE: "100-200" });
    expect(c).toEqual({
      port: 8080,
      url: "http://x",
      key: undefined,
      mode: "a",
      ratio: 0.5,
      on: true,
      range: { from: 100, to: 200 },
      tags: ["a", "b", "c"],
    });
  });

  test("names every bad variable and never echoes a secret", () => {
    let err: unknown;
    try {
      loadConfig(spec, { X_PORT: "abc", X_URL: "ftp://x", X_KEY: "short-secret", X_MODE: "c", X_RATIO: "2" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const name of ["X_PORT", "X_URL", "X_KEY", "X_MODE", "X_RATIO"]) expect(msg).toContain(name);
    expect(msg).not.toContain("short-secret");
    expect((err as ConfigError).problems).toHaveLength(5);
  });

  test("required variable missing", () => {
    expect(() => loadConfig(spec, {})).toThrow(/X_URL is required/);
  });

  test("redacts secrets and documents variables", () => {
    const c = loadConfig(spec, { X_URL: "http://x", X_KEY: "0123456789abcdef0" });
    expect(redactConfig(spec, c).key).toBe("<redacted>");
    const doc = describeConfig(spec);
    expect(doc).toContain("`X_PORT`");
    expect(doc).toContain("(secret)");
  });
});
