import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { newStreamId, newStreamKey, sha256Hex } from "@dionysia/shared";
import { createKeyAuthority } from "../src/auth/key-authority.ts";
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
    expect(r).toEqual({ streamId: local.spec.id, keyHash: local.spec.keyHash, profile: PROFILE });
    expect(stub.requests.length).toBe(before);
  });

  test("an unknown key is sent to control with the node credential and the documented body", async () => {
    stub.mode = "normal";
    const r = await authority().authorize({
      streamKey: remote.streamKey,
      protocol: "srt",
      remoteAddr: "10.0.0.9",
    });
    expect(r?.streamId).toBe(remote.streamId);
    expect(r?.keyHash).toBe(sha256Hex(remote.streamKey));
    expect(r?.profile.name).toBe(PROFILE.name);
    const last = stub.requests.at(-1)!;
    expect(last.auth).toBe(`Bearer ${NODE_KEY}`);
    expect(last.body).toEqual({
      streamKey: remote.streamKey,
      nodeId: "node-a",
      protocol: "srt",
      remoteAddr: "10.0.0.9",
    });
  });

  test("control says 403 / 409 → rejected", async () => {
    stub.mode = "normal";
    expect(await authority().authorize({ streamKey: "sk_wrong", protocol: "rtmp" })).toBeNull();
    stub.mode = "conflict";
    expect(await authority().authorize({ streamKey: remote.streamKey, protocol: "rtmp" })).toBeNull();
  });

  test("fail closed: 5xx, timeout, malformed answer, mismatched hash, unreachable, no control", async () => {
    for (const mode of ["error500", "malformed", "wrongHash"] as const) {
      stub.mode = mode;
      expect(await authority().authorize({ streamKey: remote.streamKey, protocol: "rtmp" })).toBeNull();
    }
    stub.mode = "slow";
    const t0 = Date.now();
    expect(
      await authority({ timeoutMs: 300 }).authorize({ streamKey: remote.streamKey, protocol: "rtmp" }),
    ).toBeNull();
    expect(Date.now() - t0).toBeLessThan(1500);
    stub.mode = "normal";
    expect(
      await authority({ controlUrl: "http://127.0.0.1:9" }).authorize({
        streamKey: remote.streamKey,
        protocol: "rtmp",
      }),
    ).toBeNull();
    const noControl = createKeyAuthority({ local: () => [], nodeId: "node-a", logger: testLogger });
    expect(await noControl.authorize({ streamKey: remote.streamKey, protocol: "rtmp" })).toBeNull();
  });

  test("empty and oversized keys never reach control", async () => {
    const before = stub.requests.length;
    expect(await authority().authorize({ streamKey: "", protocol: "rtmp" })).toBeNull();
    expect(await authority().authorize({ streamKey: "x".repeat(1000), protocol: "rtmp" })).toBeNull();
    expect(stub.requests.length).toBe(before);
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
