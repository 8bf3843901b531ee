/**
 * Signed playback in control (ADR 0060): signing keys (private key shown once, only public keys
 * listed, revocation), control-issued playback tokens, the router key endpoint, the retained MQTT
 * key list, and `playbackPolicy` in desired entries.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type PlaybackKeys, PlaybackVerifier, signPlaybackToken, topics } from "@dionysia/shared";
import { waitFor } from "@dionysia/shared/testkit";
import mqtt from "mqtt";
import { startRouter } from "../../router/src/app.ts";
import { loadRouterConfig } from "../../router/src/config.ts";
import { desiredFor } from "../src/scheduler/reconcile.ts";
import { ROUTER_KEY, startControl, type TestControl } from "./helpers/control.ts";
import { streamSnapshot } from "./helpers/nodes.ts";

const ROUTER_MQTT_PASSWORD = "router-mqtt-password-0123456789";
let c: TestControl;
let watcher: mqtt.MqttClient;
let lastKeys: PlaybackKeys | undefined;

beforeAll(async () => {
  c = await startControl({ env: { MQTT_ROUTER_PASSWORD: ROUTER_MQTT_PASSWORD } });
  // The embedded broker takes only known identities: the watcher speaks as control.
  watcher = mqtt.connect(c.control.network?.mqttUrl as string, {
    protocolVersion: 4,
    username: c.control.network?.broker?.control.username,
    password: c.control.network?.broker?.control.password,
  });
  watcher.on("message", (topic, payload) => {
    if (topic === topics.playbackKeys) lastKeys = JSON.parse(payload.toString()) as PlaybackKeys;
  });
  await new Promise<void>((r) =>
    watcher.on("connect", () => watcher.subscribe(topics.playbackKeys, () => r())),
  );
});
afterAll(async () => {
  watcher?.end(true);
  await c?.stop();
});

const nowS = () => Math.floor(Date.now() / 1000);

describe("signing keys", () => {
  test("create returns the private key once (ES256 default, RS256 option); lists show public keys only", async () => {
    const es = await c.api("POST", "/v1/signing-keys", { body: { name: "backend" } });
    expect(es.status).toBe(201);
    expect(es.body).toMatchObject({ name: "backend", alg: "ES256", managed: false });
    expect(es.body.id).toMatch(/^sk_/);
    expect(es.body.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(es.body.publicKey).toMatchObject({ kty: "EC", crv: "P-256" });
    expect(es.body.publicKey.d).toBeUndefined();
    const rs = await c.api("POST", "/v1/signing-keys", { body: { alg: "RS256" } });
    expect(rs.status).toBe(201);
    expect(rs.body.publicKey).toMatchObject({ kty: "RSA", e: "AQAB" });

    const list = await c.api("GET", "/v1/signing-keys");
    expect(list.status).toBe(200);
    const ids = list.body.items.map((k: { id: string }) => k.id);
    expect(ids).toContain(es.body.id);
    expect(ids).toContain(rs.body.id);
    // Control's own key is listed (managed), and no private material anywhere.
    expect(list.body.items.some((k: { managed: boolean }) => k.managed)).toBe(true);
    expect(list.text).not.toContain("PRIVATE KEY");
    expect(list.text).not.toContain('"d"');
    const one = await c.api("GET", `/v1/signing-keys/${es.body.id}`);
    expect(one.status).toBe(200);
    expect(one.text).not.toContain("PRIVATE KEY");
    expect(one.body.publicKey).toEqual(es.body.publicKey);
    expect(c.logs()).not.toContain("PRIVATE KEY");
  });

  test("admin only; hostile bodies refused with nothing created", async () => {
    const user = (await c.api("POST", "/v1/api-keys", { body: { name: "u" } })).body;
    expect((await c.api("POST", "/v1/signing-keys", { key: user.key, body: {} })).status).toBe(403);
    expect((await c.api("GET", "/v1/signing-keys", { key: null })).status).toBe(401);
    const before = (await c.api("GET", "/v1/signing-keys")).body.items.length;
    expect((await c.api("POST", "/v1/signing-keys", { body: { alg: "HS256" } })).status).toBe(422);
    expect((await c.api("POST", "/v1/signing-keys", { body: { alg: "ES256", d: "x" } })).status).toBe(422);
    expect((await c.api("GET", "/v1/signing-keys")).body.items.length).toBe(before);
    expect((await c.api("GET", "/v1/signing-keys/sk_nope")).status).toBe(404);
    expect((await c.api("DELETE", "/v1/signing-keys/sk_nope")).status).toBe(404);
  });

  test("a user's key signs tokens that verify with the published keys; DELETE revokes within 5 s", async () => {
    const k = (await c.api("POST", "/v1/signing-keys", { body: { name: "rot" } })).body;
    const token = await signPlaybackToken(
      { kid: k.id, alg: k.alg, privateKeyPem: k.privateKey },
      { sub: "s1", exp: nowS() + 300 },
    );
    // The router endpoint (router credential) and the retained MQTT topic agree.
    const res = await fetch(`${c.url}/v1/playback-keys`, {
      headers: { authorization: `Bearer ${ROUTER_KEY}` },
    });
    expect(res.status).toBe(200);
    const http = (await res.json()) as PlaybackKeys;
    expect(http.keys.map((x) => x.kid)).toContain(k.id);
    expect(JSON.stringify(http)).not.toContain("PRIVATE");
    await waitFor("key on MQTT", () => lastKeys?.keys.some((x) => x.kid === k.id), 5000);
    expect(lastKeys?.ts).toBe(http.ts);

    const v = new PlaybackVerifier();
    await v.setKeys(lastKeys?.keys ?? []);
    expect(await v.check(token, "s1", "v", {})).toMatchObject({ ok: true });

    const started = Date.now();
    expect((await c.api("DELETE", `/v1/signing-keys/${k.id}`)).status).toBe(204);
    await waitFor("revocation on MQTT", () => lastKeys && !lastKeys.keys.some((x) => x.kid === k.id), 5000);
    expect(Date.now() - started).toBeLessThan(5000);
    await v.setKeys(lastKeys?.keys ?? []);
    expect(await v.check(token, "s1", "v", {})).toMatchObject({ ok: false, status: 403 });
    expect((await c.api("GET", `/v1/signing-keys/${k.id}`)).status).toBe(404);
    expect((await c.api("GET", "/v1/signing-keys")).text).not.toContain(k.id);
  });
});

describe("OpenAPI", () => {
  test("the signing-key and playback-token endpoints are documented", async () => {
    const doc = (await (await fetch(`${c.url}/swagger/json`)).json()) as { paths: Record<string, unknown> };
    for (const p of [
      "/v1/signing-keys",
      "/v1/signing-keys/{id}",
      "/v1/playback-keys",
      "/v1/streams/{id}/playback-tokens",
    ])
      expect(Object.keys(doc.paths)).toContain(p);
  });
});

describe("playback tokens from the API", () => {
  test("POST /v1/streams/{id}/playback-tokens → token for that stream, tokenised router URLs", async () => {
    const s = (
      await c.api("POST", "/v1/streams", {
        body: { name: "sig", profileId: "builtin-360p", playbackPolicy: "signed" },
      })
    ).body;
    const r = await c.api("POST", `/v1/streams/${s.id}/playback-tokens`, { body: { ttlSeconds: 120 } });
    expect(r.status).toBe(201);
    expect(r.body.hls).toBe(`http://router.test:8000/live/${s.id}/master.m3u8?token=${r.body.token}`);
    const exp = Date.parse(r.body.expiresAt);
    expect(exp).toBeGreaterThan(Date.now() + 100_000);
    expect(exp).toBeLessThanOrEqual(Date.now() + 121_000);

    const keys = (await (
      await fetch(`${c.url}/v1/playback-keys`, { headers: { authorization: `Bearer ${ROUTER_KEY}` } })
    ).json()) as PlaybackKeys;
    const v = new PlaybackVerifier();
    await v.setKeys(keys.keys);
    expect(await v.check(r.body.token, s.id, "v", {})).toMatchObject({ ok: true });
    expect(await v.check(r.body.token, "other", "v", {})).toMatchObject({ ok: false });
    const thumb = await c.api("POST", `/v1/streams/${s.id}/playback-tokens`, {
      body: { ttlSeconds: 60, aud: "t" },
    });
    expect(await v.check(thumb.body.token, s.id, "v", {})).toMatchObject({ ok: false });
    expect(await v.check(thumb.body.token, s.id, "t", {})).toMatchObject({ ok: true });

    expect(
      (await c.api("POST", "/v1/streams/nope/playback-tokens", { body: { ttlSeconds: 60 } })).status,
    ).toBe(404);
    expect(
      (await c.api("POST", `/v1/streams/${s.id}/playback-tokens`, { body: { ttlSeconds: 8 * 86400 } }))
        .status,
    ).toBe(422);
    expect((await c.api("POST", `/v1/streams/${s.id}/playback-tokens`, { body: {} })).status).toBe(422);
    expect(
      (await c.api("POST", `/v1/streams/${s.id}/playback-tokens`, { key: null, body: { ttlSeconds: 5 } }))
        .status,
    ).toBe(401);
  });
});

describe("desired entries", () => {
  test("signed streams carry playbackPolicy; public entries are unchanged", () => {
    const base = streamSnapshot("a", { nodeId: "n1", liveNodeId: "n1" });
    const out = desiredFor("n1", [base, { ...base, id: "b", playbackPolicy: "signed" }], new Map());
    expect("playbackPolicy" in (out[0] as object)).toBe(false);
    expect(out[1]?.playbackPolicy).toBe("signed");
  });
});

describe("control → MQTT → a real router", () => {
  test("a deleted key's tokens stop working at the router within 5 s", async () => {
    const router = startRouter(
      loadRouterConfig({
        CONTROL_URL: c.url,
        DIONYSIA_ROUTER_KEY: ROUTER_KEY,
        MQTT_URL: c.control.network?.mqttUrl as string,
        MQTT_PASSWORD: ROUTER_MQTT_PASSWORD,
        LOG_LEVEL: "silent",
      }),
      { bootstrapMinDelayMs: 50 },
    );
    try {
      await router.keys.ready;
      // The route itself is not what is under test: put one in the table directly.
      router.table.upsert({
        id: "e2e1",
        policy: "signed",
        origins: [
          { nodeId: "n1", url: "http://origin.test:8090", region: "r", lat: 0, lon: 0, role: "origin" },
        ],
      });
      const k = (await c.api("POST", "/v1/signing-keys", { body: { name: "e2e" } })).body;
      const token = await signPlaybackToken(
        { kid: k.id, alg: k.alg, privateKeyPem: k.privateKey },
        { sub: "e2e1", exp: nowS() + 300 },
      );
      const status = async () =>
        (await router.handler(new Request(`http://router.test/live/e2e1/master.m3u8?token=${token}`))).status;
      await waitFor("new key live at the router", async () => (await status()) === 302, 5000);
      const deleted = Date.now();
      expect((await c.api("DELETE", `/v1/signing-keys/${k.id}`)).status).toBe(204);
      await waitFor("revocation at the router", async () => (await status()) === 403, 5000);
      expect(Date.now() - deleted).toBeLessThan(5000);
      expect(await status()).toBe(403);
    } finally {
      await router.stop();
    }
  });
});
