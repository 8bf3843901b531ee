import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { newStreamId, newStreamKey, sha256Hex } from "@dionysia/shared";
import { createKeyAuthority } from "../src/auth/key-authority.ts";
import { refusalFromControl } from "../src/auth/publish-refusal.ts";
import { deriveRelaySecret, signRelayToken, verifyRelayToken } from "../src/auth/relay-token.ts";
import { type ControlStub, startControlStub } from "./media-helpers/control-stub.ts";
import { makeStream, PROFILE, testLogger } from "./media-helpers/fixtures.ts";

const NODE_KEY = "nk_test_node_key_0123456789";

describe("key authority", () => {
  let stub: ControlStub;
  const local = makeStream();
  const remote = {
    streamId: newStreamId(),
    streamKey: newStreamKey(),
    profileId: "builtin-360p",
    profile: PROFILE,
  };
  beforeAll(() => {
    stub = startControlStub(NODE_KEY, [remote]);
  });
  afterAll(() => stub.stop());

  const authority = (o: { controlUrl?: string; timeoutMs?: number } = {}) =>
    createKeyAuthority({
      local: () => [local.spec],
      nodeId: "node-a",
      nodeKey: NODE_KEY,
      logger: testLogger,
      timeoutMs: o.timeoutMs ?? 1000,
      ...(o.controlUrl !== undefined ? { controlUrl: o.controlUrl } : { controlUrl: stub.url }),
    });

  test("a key in the local desired state is accepted without asking control", async () => {
    stub.mode = "normal";
    const before = stub.requests.length;
    const r = await authority().authorize({ streamKey: local.key, protocol: "rtmp" });
    expect(r).toEqual({ ok: true, streamId: local.spec.id, keyHash: local.spec.keyHash, profile: PROFILE });
    expect(stub.requests.length).toBe(before);
  });

  test("an unknown key is sent to control with the node credential and the documented body", async () => {
    stub.mode = "normal";
    const r = await authority().authorize({
      streamKey: remote.streamKey,
      protocol: "srt",
      remoteAddr: "10.0.0.9",
    });
    if (!r.ok) throw new Error(`refused: ${r.reason}`);
    expect(r.streamId).toBe(remote.streamId);
    expect(r.keyHash).toBe(sha256Hex(remote.streamKey));
    expect(r.profile.name).toBe(PROFILE.name);
    const last = stub.requests.at(-1)!;
    expect(last.auth).toBe(`Bearer ${NODE_KEY}`);
    expect(last.body).toEqual({
      streamKey: remote.streamKey,
      nodeId: "node-a",
      protocol: "srt",
      remoteAddr: "10.0.0.9",
    });
  });

  test("control's refusals keep their reason: 403 wrong key, 409 no_capacity / already_live / node_unavailable", async () => {
    stub.mode = "normal";
    expect(await authority().authorize({ streamKey: "sk_wrong", protocol: "rtmp" })).toMatchObject({
      ok: false,
      reason: "wrong_key",
    });
    for (const mode of ["no_capacity", "already_live", "node_unavailable"] as const) {
      stub.mode = mode;
      const r = await authority().authorize({ streamKey: remote.streamKey, protocol: "rtmp" });
      expect(r).toMatchObject({ ok: false, reason: mode });
      // Control's own message is kept for the logs.
      expect(r.ok ? "" : r.detail).toContain(mode);
    }
  });

  test("fail closed, with the reason: 5xx / timeout / unreachable → control_unreachable; malformed / mismatched → control_error", async () => {
    const reasonOf = async (a: ReturnType<typeof authority>) => {
      const r = await a.authorize({ streamKey: remote.streamKey, protocol: "rtmp" });
      return r.ok ? "accepted" : r.reason;
    };
    stub.mode = "error500";
    expect(await reasonOf(authority())).toBe("control_unreachable");
    for (const mode of ["malformed", "wrongHash"] as const) {
      stub.mode = mode;
      expect(await reasonOf(authority())).toBe("control_error");
    }
    stub.mode = "slow";
    const t0 = Date.now();
    expect(await reasonOf(authority({ timeoutMs: 300 }))).toBe("control_unreachable");
    expect(Date.now() - t0).toBeLessThan(1500);
    stub.mode = "normal";
    expect(await reasonOf(authority({ controlUrl: "http://127.0.0.1:9" }))).toBe("control_unreachable");
    // Without control, a key the desired state does not know is just a wrong key.
    const noControl = createKeyAuthority({ local: () => [], nodeId: "node-a", logger: testLogger });
    expect(await reasonOf(noControl)).toBe("wrong_key");
  });

  test("empty and oversized keys never reach control", async () => {
    const before = stub.requests.length;
    for (const streamKey of ["", "x".repeat(1000)])
      expect(await authority().authorize({ streamKey, protocol: "rtmp" })).toMatchObject({
        ok: false,
        reason: "wrong_key",
      });
    expect(stub.requests.length).toBe(before);
  });
});

describe("control's refusal → reason (pure)", () => {
  const body = (code: string) => JSON.stringify({ error: { code, message: `m ${code}` } });
  test("documented codes keep their name; the rest is control's problem, not the key's", () => {
    expect(refusalFromControl(403, body("forbidden"))).toEqual({
      reason: "wrong_key",
      detail: "forbidden: m forbidden",
    });
    expect(refusalFromControl(404, "")).toEqual({ reason: "wrong_key", detail: "HTTP 404" });
    for (const code of ["no_capacity", "already_live", "node_unavailable"] as const)
      expect(refusalFromControl(409, body(code)).reason).toBe(code);
    expect(refusalFromControl(409, body("something_new")).reason).toBe("control_error");
    expect(refusalFromControl(409, "not json").reason).toBe("control_error");
    expect(refusalFromControl(401, body("unauthorized")).reason).toBe("control_error");
    expect(refusalFromControl(503, body("unavailable")).reason).toBe("control_unreachable");
    expect(
      refusalFromControl(409, JSON.stringify({ error: { code: "no_capacity", message: "x".repeat(999) } }))
        .detail.length,
    ).toBeLessThanOrEqual(300);
  });
});

describe("relay tokens", () => {
  const secret = deriveRelaySecret(NODE_KEY);
  test("a token is bound to its stream and expires", () => {
    const tok = signRelayToken(secret, "streamA", 60);
    expect(verifyRelayToken(secret, "streamA", tok)).toBe(true);
    expect(verifyRelayToken(secret, "streamB", tok)).toBe(false);
    expect(verifyRelayToken(deriveRelaySecret("another node key 123"), "streamA", tok)).toBe(false);
    expect(verifyRelayToken(secret, "streamA", signRelayToken(secret, "streamA", 60, 1000))).toBe(false);
    expect(verifyRelayToken(secret, "streamA", "garbage")).toBe(false);
    expect(verifyRelayToken(undefined, "streamA", tok)).toBe(false);
  });
  test("the relay secret is not the node key itself", () => {
    expect(secret).not.toContain(NODE_KEY);
    expect(deriveRelaySecret(NODE_KEY)).toBe(secret);
  });
});
