/**
 * Signed playback at the router (ADR 0060), on both runtimes: real ES256/RS256 keys and tokens
 * (jose), the handler called with web-standard Requests, redirect and proxy modes.
 */
import assert from "node:assert/strict";
import {
  type GeneratedKeyPair,
  generatePlaybackKeyPair,
  signPlaybackToken,
  type TokenClaims,
} from "../../shared/src/playback/sign.ts";
import { PlaybackVerifier } from "../../shared/src/playback/token.ts";
import type { PublicSigningKey } from "../../shared/src/schemas/mqtt.ts";
import { startRouter } from "../src/app.ts";
import { createRouter } from "../src/handler.ts";
import { RouteTable } from "../src/table/store.ts";
import { NEW_YORK, origin, PARIS, ROUTER_KEY, route, testConfig } from "./support/fixtures.ts";
import { afterAll, beforeAll, describe, test } from "./support/harness.ts";
import { serveLocal } from "./support/serve.ts";

const nowS = () => Math.floor(Date.now() / 1000);

interface Key extends GeneratedKeyPair {
  kid: string;
}
let es: Key;
let rs: Key;
let other: Key;

const pub = (k: Key): PublicSigningKey => ({ kid: k.kid, alg: k.alg, jwk: k.publicJwk });
const sign = (k: Key, c: Partial<TokenClaims> = {}) =>
  signPlaybackToken(k, { sub: "sig1", aud: "v", exp: nowS() + 600, ...c });

function setup(
  env: Record<string, string> = {},
  fetch?: (u: string, init?: RequestInit) => Promise<Response>,
) {
  const table = new RouteTable();
  table.upsert(route("pub1", [origin("par", "https://par.example.net", PARIS)]));
  table.upsert({
    ...route("sig1", [
      origin("par", "https://par.example.net", PARIS),
      origin("nyc", "https://nyc.example.net", NEW_YORK),
    ]),
    policy: "signed",
  });
  table.upsert({ ...route("sig2", [origin("par", "https://par.example.net", PARIS)]), policy: "signed" });
  const verifier = new PlaybackVerifier();
  const handler = createRouter(testConfig(env), { table, verifier, ...(fetch ? { fetch } : {}) });
  const get = async (path: string, headers: Record<string, string> = {}) =>
    await handler(new Request(`http://router.test${path}`, { headers }));
  return { table, verifier, handler, get };
}

async function refused(res: Response, status: number, code: string, reason?: RegExp): Promise<void> {
  assert.equal(res.status, status);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, code);
  if (reason) assert.match(body.error.message, reason);
}

describe("signed playback at the router", () => {
  beforeAll(async () => {
    es = { ...(await generatePlaybackKeyPair("ES256")), kid: "key-es" };
    rs = { ...(await generatePlaybackKeyPair("RS256")), kid: "key-rs" };
    other = { ...(await generatePlaybackKeyPair("ES256")), kid: "key-es" }; // same kid, other key
  });
  afterAll(() => undefined);

  test("public streams are unchanged: no token needed, cacheable redirect untouched", async () => {
    const { verifier, get } = setup();
    await verifier.setKeys([pub(es)]);
    const res = await get("/live/pub1/master.m3u8?x=1");
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), "https://par.example.net/live/pub1/master.m3u8?x=1");
    assert.equal(res.headers.get("cache-control"), "no-store");
  });

  test("no token → 401; bogus → 403", async () => {
    const { verifier, get } = setup();
    await verifier.setKeys([pub(es)]);
    await refused(await get("/live/sig1/master.m3u8"), 401, "token_required");
    await refused(await get("/live/sig1/master.m3u8?token="), 401, "token_required");
    await refused(await get("/live/sig1/master.m3u8?token=abc.def.ghi"), 403, "token_invalid", /not a JWT/);
    await refused(await get("/live/sig1/master.m3u8?token=nonsense"), 403, "token_invalid");
    // A valid token with its payload swapped keeps the signature but not its validity.
    const good = await sign(es);
    const [h, , s] = good.split(".");
    const forged = btoa(JSON.stringify({ sub: "sig1", aud: "v", exp: nowS() + 9999 }))
      .replace(/=+$/, "")
      .replace(/\+/g, "-")
      .replace(/\//g, "_");
    await refused(
      await get(`/live/sig1/master.m3u8?token=${h}.${forged}.${s}`),
      403,
      "token_invalid",
      /signature/,
    );
  });

  test("a valid token: 302 carrying the token, private, the origin nearest", async () => {
    const { verifier, get } = setup();
    await verifier.setKeys([pub(es)]);
    const t = await sign(es);
    for (let i = 0; i < 2; i++) {
      // First the signature is checked, then the cache answers (synchronously).
      const res = await get(`/live/sig1/720p/index.m3u8?token=${t}&_HLS_msn=3`, { "cf-ipcountry": "US" });
      assert.equal(res.status, 302);
      assert.equal(
        res.headers.get("location"),
        `https://nyc.example.net/live/sig1/720p/index.m3u8?token=${t}&_HLS_msn=3`,
      );
      assert.equal(res.headers.get("cache-control"), "private, no-store");
    }
    assert.equal(verifier.cached, 1);
  });

  test("Authorization: Bearer works and the Location gains ?token=", async () => {
    const { verifier, get } = setup();
    await verifier.setKeys([pub(es)]);
    const t = await sign(es);
    const res = await get("/live/sig1/master.m3u8", { authorization: `Bearer ${t}` });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), `https://par.example.net/live/sig1/master.m3u8?token=${t}`);
    const q = await get("/live/sig1/master.m3u8?a=1", { authorization: `Bearer ${t}` });
    assert.equal(q.headers.get("location"), `https://par.example.net/live/sig1/master.m3u8?a=1&token=${t}`);
  });

  test("expired, exp too far ahead, nbf in the future → 403", async () => {
    const { verifier, get } = setup();
    await verifier.setKeys([pub(es)]);
    await refused(
      await get(`/live/sig1/m.m3u8?token=${await sign(es, { exp: nowS() - 60 })}`),
      403,
      "token_invalid",
      /expired/,
    );
    await refused(
      await get(`/live/sig1/m.m3u8?token=${await sign(es, { exp: nowS() + 8 * 86400 })}`),
      403,
      "token_invalid",
      /ahead/,
    );
    await refused(
      await get(`/live/sig1/m.m3u8?token=${await sign(es, { nbf: nowS() + 3600 })}`),
      403,
      "token_invalid",
      /nbf/,
    );
  });

  test("a cached token stops working when it expires", async () => {
    let now = nowS();
    const table = new RouteTable();
    table.upsert({ ...route("sig1", [origin("par", "https://par.example.net", PARIS)]), policy: "signed" });
    const verifier = new PlaybackVerifier({ nowS: () => now });
    const handler = createRouter(testConfig(), { table, verifier });
    await verifier.setKeys([pub(es)]);
    const t = await sign(es, { exp: now + 30 });
    const url = `http://router.test/live/sig1/m.m3u8?token=${t}`;
    assert.equal((await handler(new Request(url))).status, 302);
    now += 40;
    await refused(await handler(new Request(url)), 403, "token_invalid", /expired/);
  });

  test("wrong sub, wrong aud → 403", async () => {
    const { verifier, get } = setup();
    await verifier.setKeys([pub(es)]);
    const t = await sign(es);
    await refused(await get(`/live/sig2/master.m3u8?token=${t}`), 403, "token_invalid", /another stream/);
    await refused(
      await get(`/live/sig1/master.m3u8?token=${await sign(es, { aud: "t" })}`),
      403,
      "token_invalid",
      /audience/,
    );
  });

  test("revoked key: its tokens fail, cached ones included", async () => {
    const { verifier, get } = setup();
    await verifier.setKeys([pub(es), pub(rs)]);
    const t = await sign(es);
    assert.equal((await get(`/live/sig1/m.m3u8?token=${t}`)).status, 302);
    await verifier.setKeys([pub(rs)]);
    await refused(await get(`/live/sig1/m.m3u8?token=${t}`), 403, "token_invalid", /key-es/);
    // A key re-used under the same kid with other material does not revive old tokens.
    await verifier.setKeys([pub(other), pub(rs)]);
    await refused(await get(`/live/sig1/m.m3u8?token=${t}`), 403, "token_invalid", /signature/);
  });

  test("rotation: old and new keys both valid until the old is deleted (ES256 → RS256)", async () => {
    const { verifier, get } = setup();
    await verifier.setKeys([pub(es)]);
    const old = await sign(es);
    assert.equal((await get(`/live/sig1/m.m3u8?token=${old}`)).status, 302);
    await verifier.setKeys([pub(es), pub(rs)]);
    const fresh = await sign(rs);
    assert.equal((await get(`/live/sig1/m.m3u8?token=${old}`)).status, 302);
    assert.equal((await get(`/live/sig1/m.m3u8?token=${fresh}`)).status, 302);
    await verifier.setKeys([pub(rs)]);
    await refused(await get(`/live/sig1/m.m3u8?token=${old}`), 403, "token_invalid");
    assert.equal((await get(`/live/sig1/m.m3u8?token=${fresh}`)).status, 302);
  });

  test("alg in the header must be the key's", async () => {
    const { verifier, get } = setup();
    await verifier.setKeys([pub(es)]);
    const t = await signPlaybackToken({ ...rs, kid: "key-es" }, { sub: "sig1", exp: nowS() + 60 });
    await refused(await get(`/live/sig1/m.m3u8?token=${t}`), 403, "token_invalid", /signs ES256/);
  });

  test("country rule: the CDN's country header must be listed", async () => {
    const { verifier, get } = setup();
    await verifier.setKeys([pub(es)]);
    const t = await sign(es, { allow_countries: ["FR", "de"] });
    assert.equal((await get(`/live/sig1/m.m3u8?token=${t}`, { "cf-ipcountry": "FR" })).status, 302);
    assert.equal(
      (await get(`/live/sig1/m.m3u8?token=${t}`, { "cloudfront-viewer-country": "DE" })).status,
      302,
    );
    await refused(
      await get(`/live/sig1/m.m3u8?token=${t}`, { "cf-ipcountry": "US" }),
      403,
      "token_invalid",
      /US/,
    );
    await refused(await get(`/live/sig1/m.m3u8?token=${t}`), 403, "token_invalid", /country/);
  });

  test("IP rule: address from ROUTER_CLIENT_IP_HEADER, v4 and v6 CIDRs; unknown address refused", async () => {
    const { verifier, get } = setup({ ROUTER_CLIENT_IP_HEADER: "X-Forwarded-For" });
    await verifier.setKeys([pub(es)]);
    const t = await sign(es, { allow_ips: ["203.0.113.0/24", "2001:db8::/32"] });
    assert.equal(
      (await get(`/live/sig1/m.m3u8?token=${t}`, { "x-forwarded-for": "203.0.113.9, 10.0.0.1" })).status,
      302,
    );
    assert.equal(
      (await get(`/live/sig1/m.m3u8?token=${t}`, { "x-forwarded-for": "2001:db8:1::5" })).status,
      302,
    );
    await refused(
      await get(`/live/sig1/m.m3u8?token=${t}`, { "x-forwarded-for": "198.51.100.1" }),
      403,
      "token_invalid",
      /address/,
    );
    await refused(await get(`/live/sig1/m.m3u8?token=${t}`), 403, "token_invalid", /address/);
    const bad = await sign(es, { allow_ips: ["10.0.0.0/33"] });
    await refused(
      await get(`/live/sig1/m.m3u8?token=${bad}`, { "x-forwarded-for": "10.0.0.1" }),
      403,
      "token_invalid",
      /CIDR/,
    );
  });

  test("no keys at all: a signed stream is refused, never open", async () => {
    const { get } = setup();
    await refused(
      await get(`/live/sig1/m.m3u8?token=${await sign(es)}`),
      403,
      "token_invalid",
      /unknown or revoked/,
    );
  });

  test("proxy mode checks before fetching and forwards the token to the origin", async () => {
    const fetched: string[] = [];
    const fetch = async (u: string) => {
      fetched.push(u);
      return new Response("#EXTM3U\n", {
        headers: { "content-type": "application/vnd.apple.mpegurl", "cache-control": "private, max-age=1" },
      });
    };
    const { verifier, get } = setup({ ROUTER_MODE: "proxy" }, fetch);
    await verifier.setKeys([pub(es)]);
    await refused(await get("/live/sig1/master.m3u8"), 401, "token_required");
    await refused(await get("/live/sig1/master.m3u8?token=x.y.z"), 403, "token_invalid");
    assert.equal(fetched.length, 0);
    const t = await sign(es);
    const res = await get("/live/sig1/master.m3u8", { authorization: `Bearer ${t}` });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "private, max-age=1");
    assert.equal(fetched[0], `https://par.example.net/live/sig1/master.m3u8?token=${t}`);
  });
});

describe("playback keys reach the router", () => {
  let k1: Key;
  let k2: Key;
  beforeAll(async () => {
    k1 = { ...(await generatePlaybackKeyPair("ES256")), kid: "sync-1" };
    k2 = { ...(await generatePlaybackKeyPair("ES256")), kid: "sync-2" };
  });
  afterAll(() => undefined);

  test("startRouter: keys from GET /v1/playback-keys, then newer lists over MQTT revoke; older ones are ignored", async () => {
    const control = serveLocal((req) => {
      if (req.headers.get("authorization") !== `Bearer ${ROUTER_KEY}`)
        return Response.json({ error: { code: "unauthorized", message: "no" } }, { status: 401 });
      const path = new URL(req.url).pathname;
      if (path === "/v1/playback-keys") return Response.json({ keys: [pub(k1)], ts: 100 });
      return Response.json({
        routes: [{ ...route("sig1", [origin("par", "https://par.example.net", PARIS)]), policy: "signed" }],
      });
    });
    const app = startRouter(testConfig({ CONTROL_URL: control.url }), { bootstrapMinDelayMs: 50 });
    try {
      await app.bootstrapped;
      await app.keys.ready;
      const t1 = await sign(k1);
      const get = async (t: string) =>
        await app.handler(new Request(`http://router.test/live/sig1/master.m3u8?token=${t}`));
      assert.equal((await get(t1)).status, 302);
      const t2 = await sign(k2);
      await refused(await get(t2), 403, "token_invalid", /unknown or revoked/);
      // Rotation then revocation, as control publishes them on dionysia/v1/keys.
      const msg = (keys: Key[], ts: number) =>
        new TextEncoder().encode(JSON.stringify({ keys: keys.map(pub), ts }));
      await app.keys.onMessage(msg([k1, k2], 200));
      assert.equal((await get(t1)).status, 302);
      assert.equal((await get(t2)).status, 302);
      await app.keys.onMessage(msg([k2], 300));
      await refused(await get(t1), 403, "token_invalid");
      await app.keys.onMessage(msg([k1, k2], 250)); // older than what is applied: ignored
      await refused(await get(t1), 403, "token_invalid");
      await app.keys.onMessage(
        new TextEncoder().encode(
          '{"keys":[{"kid":"x","alg":"ES256","jwk":{"kty":"EC","d":"secret"}}],"ts":999}',
        ),
      );
      assert.equal((await get(t2)).status, 302); // a list with a private member is dropped whole
      assert.deepEqual(app.verifier.keyIds, ["sync-2"]);
    } finally {
      await app.stop();
      await control.stop();
    }
  });
});
