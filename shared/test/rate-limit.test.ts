import { describe, expect, test } from "bun:test";
import { addressKey, FailureLimiter } from "../src/rate-limit.ts";

describe("FailureLimiter", () => {
  test("limit failures per window, then blocked with a retry time; refills over the window", () => {
    const l = new FailureLimiter({ limit: 3, windowMs: 60_000 });
    expect(l.fail("a", 0).blocked).toBe(false);
    expect(l.fail("a", 0).blocked).toBe(false);
    const v = l.fail("a", 0);
    expect(v).toEqual({ blocked: true, retryAfterMs: 20_000 });
    expect(l.check("b", 0).blocked).toBe(false); // another address is untouched
    expect(l.check("a", 19_999).blocked).toBe(true);
    expect(l.check("a", 20_000).blocked).toBe(false);
    // Failing while blocked keeps it blocked (no token ever accumulates).
    expect(l.fail("a", 20_000).blocked).toBe(true);
    expect(l.check("a", 200_000).blocked).toBe(false);
    expect(l.size).toBe(0); // a full bucket is forgotten
  });

  test("memory is bounded: the least recently failing address is forgotten", () => {
    const l = new FailureLimiter({ limit: 1, windowMs: 1000, maxKeys: 100 });
    for (let i = 0; i < 10_000; i++) l.fail(`10.0.${i >> 8}.${i & 255}`, 0);
    expect(l.size).toBe(100);
    expect(l.check("10.0.39.15", 0).blocked).toBe(true); // the last one is still tracked
    expect(l.check("10.0.0.0", 0).blocked).toBe(false);
  });

  test("limit 0 disables it; bad options refused", () => {
    const l = new FailureLimiter({ limit: 0, windowMs: 1000 });
    for (let i = 0; i < 100; i++) expect(l.fail("a", 0).blocked).toBe(false);
    expect(() => new FailureLimiter({ limit: 1, windowMs: 0 })).toThrow();
  });

  test("addressKey folds IPv4-mapped IPv6", () => {
    expect(addressKey("::ffff:127.0.0.1")).toBe("127.0.0.1");
    expect(addressKey(undefined)).toBe("unknown");
    expect(addressKey("::1")).toBe("::1");
  });
});

describe("attemptLimited (MQTT CONNECT and other doors)", () => {
  test("failures count; past the limit the check is not even run; other addresses unaffected", async () => {
    const { attemptLimited } = await import("../src/rate-limit.ts");
    const l = new FailureLimiter({ limit: 2, windowMs: 60_000 });
    let checks = 0;
    const wrong = () => {
      checks++;
      return false;
    };
    expect((await attemptLimited(l, "::ffff:10.0.0.1", wrong)).outcome).toBe("refused");
    expect((await attemptLimited(l, "10.0.0.1", wrong)).outcome).toBe("refused");
    const limited = await attemptLimited(l, "10.0.0.1", wrong);
    expect(limited.outcome).toBe("limited");
    expect(checks).toBe(2);
    expect((await attemptLimited(l, "10.0.0.2", () => true)).outcome).toBe("ok");
  });
});
