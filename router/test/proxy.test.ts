/** Proxy mode against real local origin servers: bodies, headers, Range, failover. */
import assert from "node:assert/strict";
import { freePort } from "../../shared/src/testkit/index.ts";
import { createRouter } from "../src/handler.ts";
import { RouteTable } from "../src/table/store.ts";
import {
  NEW_YORK,
  origin,
  PARIS,
  PLAYLIST,
  route,
  SEGMENT,
  startOrigin,
  testConfig,
} from "./support/fixtures.ts";
import { afterAll, beforeAll, describe, test } from "./support/harness.ts";
import { type Served, serveLocal } from "./support/serve.ts";

describe("proxy mode", () => {
  let par: ReturnType<typeof startOrigin>;
  let nyc: ReturnType<typeof startOrigin>;
  let router: Served;
  let table: RouteTable;

  beforeAll(async () => {
    par = startOrigin("par");
    nyc = startOrigin("nyc");
    table = new RouteTable();
    table.upsert(route("s1", [origin("par", par.url, PARIS), origin("nyc", nyc.url, NEW_YORK)]));
    // Paris first, then a dead address: proxy failover must move on to New York.
    const dead = `http://127.0.0.1:${await freePort()}`;
    table.upsert(route("s2", [origin("dead", dead, PARIS), origin("nyc", nyc.url, NEW_YORK)]));
    table.upsert(route("s3", [origin("dead", dead, PARIS)]));
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

  test("streams the nearest origin's playlist with its content type and cache headers", async () => {
    const res = await fetch(`${router.url}/live/s1/master.m3u8?x=1`, {
      headers: { "X-Client-Lat": "40", "X-Client-Lon": "-74" },
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), PLAYLIST);
    assert.equal(res.headers.get("content-type"), "application/vnd.apple.mpegurl");
    assert.equal(res.headers.get("cache-control"), "max-age=1");
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.equal(res.headers.get("x-dionysia-node"), "nyc");
    assert.equal(nyc.hits.at(-1), "GET /live/s1/master.m3u8?x=1");
  });

  test("full segment bytes and a Range request (206 + Content-Range)", async () => {
    const full = await fetch(`${router.url}/live/s1/720p/seg_1.m4s`);
    assert.equal(full.status, 200);
    assert.deepEqual(new Uint8Array(await full.arrayBuffer()), SEGMENT);
    assert.equal(full.headers.get("etag"), '"seg1"');
    const part = await fetch(`${router.url}/live/s1/720p/seg_1.m4s`, { headers: { range: "bytes=100-199" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), `bytes 100-199/${SEGMENT.length}`);
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), SEGMENT.slice(100, 200));
  });

  test("HEAD carries headers and no body; origin 404 passes through", async () => {
    const head = await fetch(`${router.url}/live/s1/master.m3u8`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-type"), "application/vnd.apple.mpegurl");
    assert.equal((await head.text()).length, 0);
    const missing = await fetch(`${router.url}/live/s1/nothing.txt`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  });

  test("an unreachable origin falls over to the next; none reachable → 502 JSON", async () => {
    const res = await fetch(`${router.url}/live/s2/master.m3u8`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-dionysia-node"), "nyc");
    await res.body?.cancel();
    const bad = await fetch(`${router.url}/live/s3/master.m3u8`);
    assert.equal(bad.status, 502);
    const body = (await bad.json()) as { error: { code: string } };
    assert.equal(body.error.code, "bad_gateway");
  });

  test("a blocking reload (_HLS_msn) may be held past the head timeout; anything else may not", async () => {
    // ROUTER_PROXY_TIMEOUT_MS is 2000 here; the origin holds for 2300 ms.
    const held = await fetch(`${router.url}/live/s1/720p/index.m3u8?_HLS_msn=7&_HLS_part=1&hold_ms=2300`);
    assert.equal(held.status, 200);
    assert.equal(await held.text(), PLAYLIST);
    assert.equal(par.hits.at(-1), "GET /live/s1/720p/index.m3u8?_HLS_msn=7&_HLS_part=1&hold_ms=2300");
    const late = await fetch(`${router.url}/live/s1/720p/index.m3u8?hold_ms=2300`);
    assert.equal(late.status, 502);
    await late.body?.cancel();
  });

  test("unknown stream still 404 JSON in proxy mode", async () => {
    const res = await fetch(`${router.url}/live/zzz/master.m3u8`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, "not_found");
  });
});
