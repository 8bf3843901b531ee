/** Playback token pieces tested directly (ADR 0060): CIDR matching, claim checks, a plain-jose signer. */
import { describe, expect, test } from "bun:test";
import { importPKCS8, SignJWT } from "jose";
import { inCidr, parseCidr, parseIp } from "../src/playback/ip.ts";
import { generatePlaybackKeyPair } from "../src/playback/sign.ts";
import {
  checkClaims,
  MAX_TOKEN_LIFETIME_S,
  PlaybackVerifier,
  parseClaims,
  playbackTokenOf,
} from "../src/playback/token.ts";

describe("addresses and CIDRs", () => {
  test("v4, v6, v4-mapped v6; malformed refused", () => {
    const c = parseCidr("203.0.113.0/24");
    expect(c).toBeDefined();
    expect(inCidr(parseIp("203.0.113.77")!, c!)).toBe(true);
    expect(inCidr(parseIp("203.0.114.1")!, c!)).toBe(false);
    expect(inCidr(parseIp("::ffff:203.0.113.5")!, c!)).toBe(true);
    const v6 = parseCidr("2001:db8::/32")!;
    expect(inCidr(parseIp("2001:db8:ffff::1")!, v6)).toBe(true);
    expect(inCidr(parseIp("2001:db9::1")!, v6)).toBe(false);
    expect(inCidr(parseIp("10.1.2.3")!, parseCidr("10.1.2.3")!)).toBe(true);
    expect(inCidr(parseIp("10.1.2.4")!, parseCidr("10.1.2.3")!)).toBe(false);
    expect(inCidr(parseIp("1.2.3.4")!, parseCidr("0.0.0.0/0")!)).toBe(true);
    for (const bad of [
      "10.0.0.0/33",
      "300.1.1.1",
      "1.2.3",
      "::1::2",
      "2001:db8::/129",
      "x",
      "",
      "1.2.3.4/-1",
    ])
      expect(parseCidr(bad)).toBeUndefined();
    expect(parseIp("fe80::1%eth0")).toBeUndefined();
  });
});

describe("claims", () => {
  const now = 1_800_000_000;
  const base = { sub: "s1", aud: "v" as const, exp: now + 60 };
  test("shape: sub, aud, exp required; rules must be string arrays", () => {
    expect(parseClaims(base).ok).toBe(true);
    expect(parseClaims({ ...base, sub: undefined }).ok).toBe(false);
    expect(parseClaims({ ...base, aud: "x" }).ok).toBe(false);
    expect(parseClaims({ ...base, aud: ["v"] }).ok).toBe(false);
    expect(parseClaims({ ...base, exp: "soon" }).ok).toBe(false);
    expect(parseClaims({ ...base, allow_countries: "FR" }).ok).toBe(false);
    expect(parseClaims({ ...base, allow_ips: [1] }).ok).toBe(false);
    expect(parseClaims(null).ok).toBe(false);
  });
  test("time, stream, audience; viewer rules skipped when the viewer is null (origin)", () => {
    expect(checkClaims(base, undefined, "s1", "v", {}, now).ok).toBe(true);
    expect(checkClaims({ ...base, exp: now - 10 }, undefined, "s1", "v", {}, now).ok).toBe(false);
    expect(
      checkClaims({ ...base, exp: now + MAX_TOKEN_LIFETIME_S + 1 }, undefined, "s1", "v", {}, now).ok,
    ).toBe(false);
    expect(checkClaims({ ...base, nbf: now + 60 }, undefined, "s1", "v", {}, now).ok).toBe(false);
    expect(checkClaims({ ...base, nbf: now + 2 }, undefined, "s1", "v", {}, now).ok).toBe(true); // skew
    expect(checkClaims(base, undefined, "s2", "v", {}, now).ok).toBe(false);
    expect(checkClaims(base, undefined, "s1", "t", {}, now).ok).toBe(false);
    const fr = { ...base, allow_countries: ["FR"] };
    expect(checkClaims(fr, undefined, "s1", "v", { country: "fr" }, now).ok).toBe(true);
    expect(checkClaims(fr, undefined, "s1", "v", { country: "DE" }, now).ok).toBe(false);
    expect(checkClaims(fr, undefined, "s1", "v", null, now).ok).toBe(true);
    let read = 0;
    const viewer = () => {
      read++;
      return {};
    };
    checkClaims(base, undefined, "s1", "v", viewer, now);
    expect(read).toBe(0); // no rules: the viewer's headers are never read
  });
  test("token from ?token= (first, %-decoded) or Authorization: Bearer", () => {
    const h = new Headers({ authorization: "Bearer b.b.b" });
    expect(playbackTokenOf("http://x/live/a/m.m3u8?a=1&token=q.q.q&token=z", h)).toBe("q.q.q");
    expect(playbackTokenOf("http://x/live/a/m.m3u8?token=q%2Eq.q#frag", h)).toBe("q.q.q");
    expect(playbackTokenOf("http://x/live/a/m.m3u8?mytoken=1", h)).toBe("b.b.b");
    expect(playbackTokenOf("http://x/live/a/m.m3u8", new Headers())).toBeUndefined();
  });
});

describe("a user's backend signing with plain jose (the README example)", () => {
  test("ES256 with kid, sub, aud, exp verifies; the verifier caches it", async () => {
    const created = await generatePlaybackKeyPair("ES256"); // what POST /v1/signing-keys returns
    const KEY_ID = "sk_example";
    // --- README snippet, verbatim apart from where the key comes from ---
    const privateKey = await importPKCS8(created.privateKeyPem, "ES256");
    const token = await new SignJWT({ allow_countries: ["FR", "DE"] })
      .setProtectedHeader({ alg: "ES256", kid: KEY_ID })
      .setSubject("STREAM_ID")
      .setAudience("v")
      .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
      .sign(privateKey);
    // ---
    const v = new PlaybackVerifier();
    await v.setKeys([{ kid: KEY_ID, alg: "ES256", jwk: created.publicJwk }]);
    expect(await v.check(token, "STREAM_ID", "v", { country: "FR" })).toMatchObject({ ok: true });
    expect(v.cached).toBe(1);
    expect(v.check(token, "STREAM_ID", "v", { country: "US" })).toMatchObject({ ok: false, status: 403 });
    expect(v.check(undefined, "STREAM_ID", "v", {})).toMatchObject({ ok: false, status: 401 });
  });
  test("the cache is bounded", async () => {
    const k = await generatePlaybackKeyPair("ES256");
    const v = new PlaybackVerifier({ maxCached: 3 });
    await v.setKeys([{ kid: "k", alg: "ES256", jwk: k.publicJwk }]);
    const pk = await importPKCS8(k.privateKeyPem, "ES256");
    for (let i = 0; i < 5; i++) {
      const t = await new SignJWT({})
        .setProtectedHeader({ alg: "ES256", kid: "k" })
        .setSubject(`s${i}`)
        .setAudience("v")
        .setExpirationTime(Math.floor(Date.now() / 1000) + 60)
        .sign(pk);
      expect(await v.check(t, `s${i}`, "v", {})).toMatchObject({ ok: true });
    }
    expect(v.cached).toBe(3);
  });
});
