/**
 * Live thumbnails through the router (ADR 0093), on both runtimes: `/live/{id}/thumbnail.jpg` with
 * its `width`/`height` query is one more /live file to the router. Redirect mode keeps the query in
 * the Location; proxy mode passes the origin's bytes and headers (image/jpeg, max-age, ETag); a
 * signed stream needs its token in both, and the origin gets it with the size.
 */
import assert from "node:assert/strict";
import {
  type GeneratedKeyPair,
  generatePlaybackKeyPair,
  signPlaybackToken,
} from "../../shared/src/playback/sign.ts";
import { PlaybackVerifier } from "../../shared/src/playback/token.ts";
import { createRouter } from "../src/handler.ts";
import { LIVE, parseRoutedPath } from "../src/http/paths.ts";
import { RouteTable } from "../src/table/store.ts";
import { NEW_YORK, origin, PARIS, route, testConfig } from "./support/fixtures.ts";
import { afterAll, beforeAll, describe, test } from "./support/harness.ts";
import { type Served, serveLocal } from "./support/serve.ts";

/** Not a real JPEG: the router never looks inside; the bytes must arrive unchanged. */
const JPEG = new Uint8Array(30_000).map((_, i) => (i === 0 ? 0xff : i === 1 ? 0xd8 : i % 253));

/** An origin answering thumbnails as the real one does (headers), recording what it was asked. */
function startThumbOrigin(): Served & { hits: string[] } {
  const hits: string[] = [];
  const served = serveLocal((req) => {
    const u = new URL(req.url);
    hits.push(`${req.method} ${u.pathname}${u.search}`);
    if (!u.pathname.endsWith("/thumbnail.jpg")) return new Response("not found", { status: 404 });
    const signed = u.searchParams.has("token");
    return new Response(req.method === "HEAD" ? null : JPEG, {
      headers: {
        "content-type": "image/jpeg",
        "cache-control": signed ? "private, max-age=5" : "public, max-age=5",
        etag: `"f1-${u.searchParams.get("width") ?? "a"}"`,
        "last-modified": "Thu, 03 Dec 2026 06:00:00 GMT",
        "access-control-allow-origin": "*",
      },
    });
  });
  return Object.assign(served, { hits });
}

describe("thumbnails through the router", () => {
  let org: ReturnType<typeof startThumbOrigin>;
  let key: GeneratedKeyPair & { kid: string };
  let token: string;
  const verifier = new PlaybackVerifier();

  function setup(env: Record<string, string>, url: string) {
    const table = new RouteTable();
    table.upsert(route("s1", [origin("par", url, PARIS), origin("nyc", url, NEW_YORK)]));
    table.upsert({ ...route("sig1", [origin("par", url, PARIS)]), policy: "signed" });
    const handler = createRouter(testConfig(env), { table, verifier });
    return (path: string, method = "GET") =>
      Promise.resolve(handler(new Request(`http://router.test${path}`, { method })));
  }

  beforeAll(async () => {
    org = startThumbOrigin();
    key = { ...(await generatePlaybackKeyPair("ES256")), kid: "thumb-key" };
    await verifier.setKeys([{ kid: key.kid, alg: key.alg, jwk: key.publicJwk }]);
    token = await signPlaybackToken(key, { sub: "sig1", aud: "v", exp: Math.floor(Date.now() / 1000) + 600 });
  });
  afterAll(async () => {
    await org?.stop();
  });

  test("the path rule accepts the name", () => {
    assert.deepEqual(parseRoutedPath("s1/thumbnail.jpg", LIVE), {
      ok: true,
      id: "s1",
      file: "thumbnail.jpg",
    });
  });

  test("redirect mode: 302 with the size query kept; HEAD too; signed: token required, then kept", async () => {
    const get = setup({}, "https://par.example.net");
    const res = await get("/live/s1/thumbnail.jpg?width=320");
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), "https://par.example.net/live/s1/thumbnail.jpg?width=320");
    const both = await get("/live/s1/thumbnail.jpg?width=320&height=180", "HEAD");
    assert.equal(both.status, 302);
    assert.equal(
      both.headers.get("location"),
      "https://par.example.net/live/s1/thumbnail.jpg?width=320&height=180",
    );
    const refused = await get("/live/sig1/thumbnail.jpg?width=320");
    assert.equal(refused.status, 401);
    await refused.body?.cancel();
    const signed = await get(`/live/sig1/thumbnail.jpg?width=320&token=${token}`);
    assert.equal(signed.status, 302);
    assert.equal(
      signed.headers.get("location"),
      `https://par.example.net/live/sig1/thumbnail.jpg?width=320&token=${token}`,
    );
    assert.equal(signed.headers.get("cache-control"), "private, no-store");
  });

  test("proxy mode: the origin's JPEG bytes and headers, query forwarded; HEAD has no body", async () => {
    const get = setup({ ROUTER_MODE: "proxy", ROUTER_PROXY_TIMEOUT_MS: "2000" }, org.url);
    const res = await get("/live/s1/thumbnail.jpg?width=320");
    assert.equal(res.status, 200);
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), JPEG);
    assert.equal(res.headers.get("content-type"), "image/jpeg");
    assert.equal(res.headers.get("cache-control"), "public, max-age=5");
    assert.equal(res.headers.get("etag"), '"f1-320"');
    assert.equal(res.headers.get("last-modified"), "Thu, 03 Dec 2026 06:00:00 GMT");
    assert.equal(org.hits.at(-1), "GET /live/s1/thumbnail.jpg?width=320");
    const head = await get("/live/s1/thumbnail.jpg?height=90", "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-type"), "image/jpeg");
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    assert.equal(org.hits.at(-1), "HEAD /live/s1/thumbnail.jpg?height=90");
  });

  test("proxy mode, signed: refused before fetching; with the token, private and forwarded", async () => {
    const get = setup({ ROUTER_MODE: "proxy", ROUTER_PROXY_TIMEOUT_MS: "2000" }, org.url);
    const before = org.hits.length;
    const refused = await get("/live/sig1/thumbnail.jpg?width=160");
    assert.equal(refused.status, 401);
    await refused.body?.cancel();
    assert.equal(org.hits.length, before);
    const res = await get(`/live/sig1/thumbnail.jpg?width=160&token=${token}`);
    assert.equal(res.status, 200);
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), JPEG);
    assert.equal(res.headers.get("cache-control"), "private, max-age=5");
    assert.equal(org.hits.at(-1), `GET /live/sig1/thumbnail.jpg?width=160&token=${token}`);
  });
});
