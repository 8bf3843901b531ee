/** The fetch handler called directly with web-standard Requests: redirects, errors, CORS, health, metrics. */
import assert from "node:assert/strict";
import { createRouter } from "../src/handler.ts";
import { RouteTable } from "../src/table/store.ts";
import { NEW_YORK, origin, PARIS, route, TOKYO, testConfig } from "./support/fixtures.ts";
import { describe, test } from "./support/harness.ts";

function setup(env: Record<string, string> = {}) {
  const table = new RouteTable();
  table.upsert(
    route("live1", [
      origin("par", "https://par.example.net", PARIS),
      origin("nyc", "https://nyc.example.net/", NEW_YORK),
      origin("tyo", "https://tyo.example.net", TOKYO),
    ]),
  );
  table.applySnapshot([], 0); // bootstrapped, keeping live1 (its MQTT mark is newer)
  const handler = createRouter(testConfig(env), { table });
  const get = (path: string, headers: Record<string, string> = {}, method = "GET") =>
    handler(new Request(`http://router.test${path}`, { method, headers }));
  return { table, handler, get };
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(typeof body.error.message, "string");
  return body.error;
}

describe("redirect mode", () => {
  test("302 to the nearest origin, path and query preserved, no-store, CORS", async () => {
    const { get } = setup();
    const res = await get("/live/live1/720p/index.m3u8?token=abc&_HLS_msn=5", {
      "CloudFront-Viewer-Latitude": "40.0",
      "CloudFront-Viewer-Longitude": "-75.0",
    });
    assert.equal(res.status, 302);
    assert.equal(
      res.headers.get("location"),
      "https://nyc.example.net/live/live1/720p/index.m3u8?token=abc&_HLS_msn=5",
    );
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
  });

  test("country header and the primary fallback", async () => {
    const { get } = setup();
    const jp = await get("/live/live1/master.m3u8", { "CF-IPCountry": "JP" });
    assert.equal(jp.headers.get("location"), "https://tyo.example.net/live/live1/master.m3u8");
    const none = await get("/live/live1/master.m3u8");
    assert.equal(none.headers.get("location"), "https://par.example.net/live/live1/master.m3u8");
    const head = await get(
      "/live/live1/master.m3u8",
      { "X-Client-Lat": "41", "X-Client-Lon": "-74" },
      "HEAD",
    );
    assert.equal(head.status, 302);
    assert.equal(head.headers.get("location"), "https://nyc.example.net/live/live1/master.m3u8");
  });

  test("a configured max-age replaces no-store and adds Vary on the geo headers", async () => {
    const { get } = setup({ ROUTER_REDIRECT_MAX_AGE: "5" });
    const res = await get("/live/live1/master.m3u8");
    assert.equal(res.headers.get("cache-control"), "public, max-age=5");
    assert.match(res.headers.get("vary") ?? "", /cf-ipcountry/);
  });

  test("offline nearest node → the next nearest; all offline → 503 JSON", async () => {
    const { table, get } = setup();
    table.setNodeOnline("tyo", false);
    const res = await get("/live/live1/master.m3u8", { "CF-IPCountry": "JP" });
    assert.equal(res.headers.get("location"), "https://par.example.net/live/live1/master.m3u8");
    table.setNodeOnline("par", false);
    table.setNodeOnline("nyc", false);
    const down = await get("/live/live1/master.m3u8", { "CF-IPCountry": "JP" });
    assert.equal(down.status, 503);
    assert.equal(down.headers.get("retry-after"), "2");
    assert.equal((await errorOf(down)).code, "unavailable");
  });

  test("unknown stream → 404 JSON", async () => {
    const res = await setup().get("/live/nope/master.m3u8");
    assert.equal(res.status, 404);
    assert.equal((await errorOf(res)).code, "not_found");
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
  });

  test("bad ids and paths → 400 JSON", async () => {
    const { get } = setup();
    for (const p of [
      "/live/live1/%2e%2e/secret",
      "/live/live1/.env",
      "/live/bad$id/master.m3u8",
      "/live/live1/",
      "/live/live1/a%00b",
    ]) {
      const res = await get(p);
      assert.equal(res.status, 400, p);
      assert.equal((await errorOf(res)).code, "bad_request");
    }
  });

  test("other paths 404, other methods 405, OPTIONS is a CORS preflight", async () => {
    const { get } = setup();
    assert.equal((await get("/elsewhere")).status, 404);
    const post = await get("/live/live1/master.m3u8", {}, "POST");
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD, OPTIONS");
    const pre = await get("/live/live1/master.m3u8", { origin: "https://player.example" }, "OPTIONS");
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), "*");
    assert.match(pre.headers.get("access-control-allow-headers") ?? "", /range/);
  });
});

describe("health and metrics", () => {
  test("/time: the router's UTC clock (DASH UTCTiming), never cached, readable cross-origin", async () => {
    const { get } = setup();
    const before = Date.now();
    const res = await get("/time");
    const body = await res.text();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.match(body, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const t = Date.parse(body);
    assert.ok(t >= before && t <= Date.now(), `time ${body} outside the request`);
  });

  test("/health reports the table size", async () => {
    const { get } = setup();
    const res = await get("/health");
    assert.equal(res.status, 200);
    const body = (await res.json()) as { routes: number; bootstrapped: boolean };
    assert.equal(body.routes, 1);
    assert.equal(body.bootstrapped, true);
  });

  test("/health is 503 before the first bootstrap only when required", async () => {
    const table = new RouteTable();
    const lax = createRouter(testConfig(), { table });
    assert.equal((await lax(new Request("http://r/health"))).status, 200);
    const strict = createRouter(testConfig({ ROUTER_REQUIRE_BOOTSTRAP: "true" }), { table });
    assert.equal((await strict(new Request("http://r/health"))).status, 503);
    table.applySnapshot([], Date.now());
    assert.equal((await strict(new Request("http://r/health"))).status, 200);
  });

  test("/metrics is Prometheus text counting outcomes", async () => {
    const { get } = setup();
    await get("/live/live1/master.m3u8");
    await get("/live/live1/master.m3u8");
    await get("/live/nope/master.m3u8");
    const res = await get("/metrics");
    assert.match(res.headers.get("content-type") ?? "", /text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(text, /dionysia_router_requests_total\{outcome="redirect"\} 2/);
    assert.match(text, /dionysia_router_requests_total\{outcome="not_found"\} 1/);
    assert.match(text, /dionysia_router_routes 1/);
    assert.match(text, /dionysia_router_request_duration_seconds_count \d+/);
  });
});

describe("configuration", () => {
  test("bad variables are refused with their names; the key is never echoed", () => {
    assert.throws(
      () =>
        testConfig({ ROUTER_MODE: "teleport", ROUTER_PORT: "99999", DIONYSIA_ROUTER_KEY: "short-secret" }),
      (err: Error) =>
        /ROUTER_MODE/.test(err.message) &&
        /ROUTER_PORT/.test(err.message) &&
        /DIONYSIA_ROUTER_KEY/.test(err.message) &&
        !err.message.includes("short-secret"),
    );
    assert.equal(testConfig().port, 0);
    assert.equal(testConfig({ ROUTER_MODE: "proxy" }).mode, "proxy");
  });
});
