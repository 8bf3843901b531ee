import { describe, expect, test } from "bun:test";
import type { KeyAuthority, PublishEvent } from "../src/media/types.ts";
import { PublishKeys, Reclaimer } from "../src/reclaim.ts";
import { captureLogger, PROFILE } from "./media-helpers/fixtures.ts";

describe("Reclaimer", () => {
  test("re-authorizes only live, keyed inputs the desired state lacks; backs off after a refusal", async () => {
    const calls: string[] = [];
    let answer: "ok" | "no" = "no";
    const authority: KeyAuthority = {
      authorize: async (r) => {
        calls.push(r.streamKey);
        const id = r.streamKey.replace("key-", "");
        return answer === "ok"
          ? { ok: true, streamId: id, keyHash: "h", profile: PROFILE }
          : { ok: false, reason: "no_capacity" };
      },
    };
    const keys = new PublishKeys();
    const wrapped = keys.wrap({
      authorize: async (r) => ({
        ok: true,
        streamId: r.streamKey.replace("key-", ""),
        keyHash: "h",
        profile: PROFILE,
      }),
    });
    await wrapped.authorize({ streamKey: "key-a", protocol: "rtmp" });
    await wrapped.authorize({ streamKey: "key-b", protocol: "rtmp" });
    const active: PublishEvent[] = [
      { streamId: "a", protocol: "rtmp", inputUrl: "x" },
      { streamId: "b", protocol: "rtmp", inputUrl: "x" },
      { streamId: "relay-only", protocol: "pull", inputUrl: "x" },
    ];
    const { logger, lines } = captureLogger();
    let clock = 1_000_000;
    const r = new Reclaimer({
      mediaServer: { active: () => active },
      authority,
      keys,
      desiredIds: () => new Set(["b"]),
      logger,
      retryMs: 50,
      now: () => clock,
    });
    expect(await r.check()).toEqual(["a"]); // b is desired; relay-only holds no key
    expect(calls).toEqual(["key-a"]);
    expect(await r.check()).toEqual([]); // too soon
    clock += 60;
    expect(await r.check()).toEqual([]); // refused once: waits 100 ms now
    clock += 60;
    answer = "ok";
    expect(await r.check()).toEqual(["a"]);
    expect(
      lines.some((l) => String(l.msg).includes("control refused the re-claim") && l.reason === "no_capacity"),
    ).toBe(true);
    expect(lines.some((l) => String(l.msg).includes("re-claimed with control"))).toBe(true);
    expect(JSON.stringify(lines)).not.toContain("key-a");
  });
});
