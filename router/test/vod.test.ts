/**
 * VOD assets through the router (ADR 0096): `/vod/{assetId}/{file}` is routed by the same table,
 * rules and answers as `/live/{streamId}/{file}`, in redirect and proxy mode, signed or public.
 */
import assert from "node:assert/strict";
import { generatePlaybackKeyPair, signPlaybackToken } from "../../shared/src/playback/sign.ts";
import { PlaybackVerifier } from "../../shared/src/playback/token.ts";
import { createRouter } from "../src/handler.ts";
import { createLog, type Fields } from "../src/obs/log.ts";
import { RouteTable } from "../src/table/store.ts";
import {
  NEW_YORK,
  origin,
  PARIS,
  PLAYLIST,
  route,
  SEGMENT,
  startOrigin,
  TOKYO,
  testConfig,
} from "./support/fixtures.ts";
import { afterAll, beforeAll, describe, test } from "./support/harness.ts";
import { rawGet } from "./support/raw.ts";
import { type Served, serveLocal } from "./support/serve.ts";

const nowS = () => Math.floor(Date.now() / 1000);

/** Control publishes one route per asset, in the same table and shape as a stream's. */
function setup(
  env: Record<string, string> = {},
  fetch?: (u: string, init?: RequestInit) => Promise<Response>,
) {
  const table = new RouteTable();
  table.upsert(
    route("rec-2026_12", [
      origin("par", "https://par.example.net", PARIS),
      origin("nyc", "https://nyc.example.net/", NEW_YORK),
      origin("tyo", "https://tyo.example.net", TOKYO),
    ]),
  );
  table.upsert({ ...route("sigvod", [origin("par", "https://par.example.net", PARIS)]), policy: "signed" });
  table.upsert(route("live1", [origin("par", "https://par.example.net", PARIS)]));
  const verifier = new PlaybackVerifier();
  const handler = createRouter(testConfig(env), { table, verifier, ...(fetch ? { fetch } : {}) });
  const get = async (path: string, headers: Record<string, string> = {}, method = "GET") =>
    await handler(new Request(`http://router.test${path}`, { method, headers }));
  return { table, verifier, handler, get };
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  return ((await res.json()) as { error: { code: string; message: string } }).error;
}

describe("VOD assets in redirect mode", () => {
  test("302 to the nearest origin with the path and query as received, like /live/", async () => {
    const { get } = setup();
    for (const file of [
      "master.m3u8",
      "720p/index.m3u8",
      "run-x/720p/seg-3.m4s",
      "thumbnail.jpg?time=12.5",
      "manifest.mpd?token=abc&x=%2F",
    ]) {
      const res = await get(`/vod/rec-2026_12/${file}`, { "CF-IPCountry": "JP" });
      assert.equal(res.status, 302, file);
      assert.equal(res.headers.get("location"), `https://tyo.example.net/vod/rec-2026_12/${file}`);
      assert.equal(res.headers.get("cache-control"), "no-store");
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
    }
    const head = await get(
      "/vod/rec-2026_12/master.m3u8",
      { "X-Client-Lat": "41", "X-Client-Lon": "-74" },
      "HEAD",
    );
    assert.equal(head.status, 302);
    assert.equal(head.headers.get("location"), "https://nyc.example.net/vod/rec-2026_12/master.m3u8");
    // A fragment never reaches a server; if one is in the URL it is not put in the Location.
    const frag = await get("/vod/rec-2026_12/master.m3u8?a=1#t=5");
    assert.equal(frag.headers.get("location"), "https://par.example.net/vod/rec-2026_12/master.m3u8?a=1");
  });

  test("the redirect is cacheable exactly as configured for /live/ (max-age and Vary)", async () => {
    const { get } = setup({ ROUTER_REDIRECT_MAX_AGE: "5" });
    const vod = await get("/vod/rec-2026_12/master.m3u8");
    const live = await get("/live/live1/master.m3u8");
    assert.equal(vod.headers.get("cache-control"), "public, max-age=5");
    assert.equal(vod.headers.get("cache-control"), live.headers.get("cache-control"));
    assert.equal(vod.headers.get("vary"), live.headers.get("vary"));
  });

  test("unknown asset → 404 'asset … is not routed'; every origin offline → 503", async () => {
    const { table, get } = setup();
    const nope = await get("/vod/nope/master.m3u8");
    assert.equal(nope.status, 404);
    assert.deepEqual(await errorOf(nope), { code: "not_found", message: "asset nope is not routed" });
    for (const n of ["par", "nyc", "tyo"]) table.setNodeOnline(n, false);
    const down = await get("/vod/rec-2026_12/master.m3u8");
    assert.equal(down.status, 503);
    assert.equal(down.headers.get("retry-after"), "2");
    assert.deepEqual(await errorOf(down), {
      code: "unavailable",
      message: "no healthy origin carries asset rec-2026_12",
    });
    table.setNodeOnline("nyc", true);
    assert.equal(
      (await get("/vod/rec-2026_12/master.m3u8")).headers.get("location"),
      "https://nyc.example.net/vod/rec-2026_12/master.m3u8",
    );
  });

  test("bad ids and paths → 400, traversal included; /vod/ alone as /live/ alone", async () => {
    const { get } = setup();
    for (const p of [
      "/vod/a/..%2f..%2fetc/passwd",
      "/vod/../live/x",
      "/vod/%2e%2e/live/x",
      "/vod/rec-2026_12/.env",
      "/vod/rec-2026_12/a%00b",
      "/vod/bad$id/master.m3u8",
      "/vod/rec-2026_12/",
      "/vod/rec-2026_12",
      `/vod/${"x".repeat(65)}/master.m3u8`,
    ]) {
      const res = await get(p);
      assert.equal(res.status, 400, p);
      assert.equal((await errorOf(res)).code, "bad_request", p);
    }
    const vod = await get("/vod/");
    const live = await get("/live/");
    assert.equal(vod.status, 400);
    assert.equal(vod.status, live.status);
    assert.equal((await errorOf(vod)).message, "asset id must be 1-64 characters of [A-Za-z0-9_-]");
    assert.equal((await errorOf(live)).message, "stream id must be 1-64 characters of [A-Za-z0-9_-]");
    assert.equal(
      (await errorOf(await get("/vod/rec-2026_12"))).message,
      "a file path is required after the asset id",
    );
    // Without the trailing slash neither is a routed prefix: the generic 404.
    assert.equal((await get("/vod")).status, 404);
    assert.equal((await get("/vodka/a/b")).status, 404);
  });

  test("VOD requests are counted under the same outcomes as /live/", async () => {
    const { get } = setup();
    await get("/vod/rec-2026_12/master.m3u8");
    await get("/live/live1/master.m3u8");
    await get("/vod/nope/master.m3u8");
    await get("/vod/a/.x");
    const text = await (await get("/metrics")).text();
    assert.match(text, /dionysia_router_requests_total\{outcome="redirect"\} 2/);
    assert.match(text, /dionysia_router_requests_total\{outcome="not_found"\} 1/);
    assert.match(text, /dionysia_router_requests_total\{outcome="bad_request"\} 1/);
    assert.match(text, /dionysia_router_routes 3/);
  });

  test("other methods 405 and OPTIONS is a preflight, as for /live/", async () => {
    const { get } = setup();
    assert.equal((await get("/vod/rec-2026_12/master.m3u8", {}, "POST")).status, 405);
    assert.equal((await get("/vod/rec-2026_12/master.m3u8", {}, "OPTIONS")).status, 204);
  });
});

describe("signed VOD assets", () => {
  let key: Awaited<ReturnType<typeof generatePlaybackKeyPair>> & { kid: string };
  beforeAll(async () => {
    key = { ...(await generatePlaybackKeyPair("ES256")), kid: "vod-key" };
  });
  afterAll(() => undefined);
  const pub = () => ({ kid: key.kid, alg: key.alg, jwk: key.publicJwk });
  const sign = (sub: string) => signPlaybackToken(key, { sub, aud: "v", exp: nowS() + 600 });

  test("refused without a token, allowed with one whose subject is the asset id", async () => {
    const { verifier, get } = setup();
    await verifier.setKeys([pub()]);
    const none = await get("/vod/sigvod/master.m3u8");
    assert.equal(none.status, 401);
    assert.equal((await errorOf(none)).code, "token_required");
    const elsewhere = await get(`/vod/sigvod/master.m3u8?token=${await sign("live1")}`);
    assert.equal(elsewhere.status, 403);
    assert.equal((await errorOf(elsewhere)).code, "token_invalid");
    const t = await sign("sigvod");
    const ok = await get(`/vod/sigvod/run-x/720p/seg-3.m4s?token=${t}`);
    assert.equal(ok.status, 302);
    assert.equal(
      ok.headers.get("location"),
      `https://par.example.net/vod/sigvod/run-x/720p/seg-3.m4s?token=${t}`,
    );
    assert.equal(ok.headers.get("cache-control"), "private, no-store");
    const bearer = await get("/vod/sigvod/thumbnail.jpg?time=3", { authorization: `Bearer ${t}` });
    assert.equal(
      bearer.headers.get("location"),
      `https://par.example.net/vod/sigvod/thumbnail.jpg?time=3&token=${t}`,
    );
  });

  test("a refusal is logged under assetId, not streamId", async () => {
    const lines: Fields[] = [];
    const log = createLog("info", { service: "router" }, (line) => lines.push(JSON.parse(line) as Fields));
    const table = new RouteTable();
    table.upsert({ ...route("sigvod", [origin("par", "https://par.example.net", PARIS)]), policy: "signed" });
    const handler = createRouter(testConfig(), { table, log });
    assert.equal((await handler(new Request("http://router.test/vod/sigvod/master.m3u8"))).status, 401);
    const refused = lines.find((l) => l.msg === "playback token refused");
    assert.equal(refused?.assetId, "sigvod");
    assert.equal(refused?.streamId, undefined);
  });

  test("proxy mode: checked before fetching, the token forwarded to the origin", async () => {
    const fetched: string[] = [];
    const fetch = async (u: string) => {
      fetched.push(u);
      return new Response(PLAYLIST, { headers: { "content-type": "application/vnd.apple.mpegurl" } });
    };
    const { verifier, get } = setup({ ROUTER_MODE: "proxy" }, fetch);
    await verifier.setKeys([pub()]);
    assert.equal((await get("/vod/sigvod/master.m3u8")).status, 401);
    assert.equal(fetched.length, 0);
    const t = await sign("sigvod");
    const res = await get("/vod/sigvod/master.m3u8", { authorization: `Bearer ${t}` });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), PLAYLIST);
    assert.deepEqual(fetched, [`https://par.example.net/vod/sigvod/master.m3u8?token=${t}`]);
  });
});

describe("VOD assets in proxy mode", () => {
  let par: ReturnType<typeof startOrigin>;
  let nyc: ReturnType<typeof startOrigin>;
  let router: Served;
  let table: RouteTable;

  beforeAll(() => {
    par = startOrigin("par");
    nyc = startOrigin("nyc");
    table = new RouteTable();
    table.upsert(route("a1", [origin("par", par.url, PARIS), origin("nyc", nyc.url, NEW_YORK)]));
    const handler = createRouter(testConfig({ ROUTER_MODE: "proxy", ROUTER_PROXY_TIMEOUT_MS: "2000" }), {
      table,
    });
    router = serveLocal((req) => handler(req));
  });

  afterAll(async () => {
    await router?.stop();
    await par?.stop();
    await nyc?.stop();
  });

  test("the nearest origin's bytes, its headers, path and query kept", async () => {
    const res = await fetch(`${router.url}/vod/a1/720p/index.m3u8?x=1`, {
      headers: { "X-Client-Lat": "40", "X-Client-Lon": "-74" },
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), PLAYLIST);
    assert.equal(res.headers.get("content-type"), "application/vnd.apple.mpegurl");
    assert.equal(res.headers.get("x-dionysia-node"), "nyc");
    assert.equal(nyc.hits.at(-1), "GET /vod/a1/720p/index.m3u8?x=1");
  });

  test("segments whole and by Range", async () => {
    const full = await fetch(`${router.url}/vod/a1/run-x/720p/seg-3.m4s`);
    assert.equal(full.status, 200);
    assert.deepEqual(new Uint8Array(await full.arrayBuffer()), SEGMENT);
    const part = await fetch(`${router.url}/vod/a1/run-x/720p/seg-3.m4s`, {
      headers: { range: "bytes=10-19" },
    });
    assert.equal(part.status, 206);
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), SEGMENT.slice(10, 20));
    assert.equal(par.hits.at(-1), "GET /vod/a1/run-x/720p/seg-3.m4s");
  });

  test("unknown → 404, all offline → 503, bad path → 400, each JSON", async () => {
    const nope = await fetch(`${router.url}/vod/zzz/master.m3u8`);
    assert.equal(nope.status, 404);
    assert.equal(
      ((await nope.json()) as { error: { message: string } }).error.message,
      "asset zzz is not routed",
    );
    table.setNodeOnline("par", false);
    table.setNodeOnline("nyc", false);
    try {
      const down = await fetch(`${router.url}/vod/a1/master.m3u8`);
      assert.equal(down.status, 503);
      await down.body?.cancel();
    } finally {
      table.setNodeOnline("par", true);
      table.setNodeOnline("nyc", true);
    }
    const bad = await fetch(`${router.url}/vod/a1/.secret`);
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
  });

  test("traversal on the wire (raw request targets) → 400, nothing fetched", async () => {
    const before = par.hits.length + nyc.hits.length;
    // Deno hands the target over as sent; Bun resolves dot segments first (`/vod/../live/x` arrives
    // as `/live/x`, which has no file path). Either way: 400, and no origin is asked.
    for (const target of ["/vod/a/..%2f..%2fetc/passwd", "/vod/../live/x", "/vod/a1/%2e%2e%2fetc%2fpasswd"]) {
      const res = await rawGet(router.port, target);
      assert.equal(res.status, 400, target);
      assert.match(res.body, /"bad_request"/, target);
    }
    assert.equal(par.hits.length + nyc.hits.length, before);
  });
});
