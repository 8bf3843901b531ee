/** Pure logic: client position from CDN headers, nearest-origin choice, paths, snapshot merging. */
import assert from "node:assert/strict";
import { haversineKm } from "../../shared/src/geo.ts";
import { clientPosition } from "../src/geo/client.ts";
import { COUNTRY_COUNT, countryPosition } from "../src/geo/countries.ts";
import { LIVE, parseRoutedPath, pathStart, routedAt, routedId, splitTarget, VOD } from "../src/http/paths.ts";
import { type Origin, RouteTable } from "../src/table/store.ts";
import { NEW_YORK, origin, PARIS, route, TOKYO, testConfig } from "./support/fixtures.ts";
import { describe, test } from "./support/harness.ts";

const geo = testConfig();

function table(): RouteTable {
  const t = new RouteTable();
  t.upsert(
    route("s1", [
      origin("par", "http://par.example/", PARIS),
      origin("nyc", "http://nyc.example", NEW_YORK),
      origin("tyo", "http://tyo.example", TOKYO),
    ]),
  );
  return t;
}

describe("client position from CDN headers", () => {
  test("CloudFront latitude/longitude", () => {
    const p = clientPosition(
      new Headers({ "CloudFront-Viewer-Latitude": "35.1", "CloudFront-Viewer-Longitude": "139.2" }),
      geo,
    );
    assert.deepEqual(p, { lat: 35.1, lon: 139.2 });
  });

  test("X-Client-Lat/Lon when CloudFront headers are absent or invalid", () => {
    const h = new Headers({
      "CloudFront-Viewer-Latitude": "999",
      "X-Client-Lat": "40",
      "X-Client-Lon": "-73",
    });
    assert.deepEqual(clientPosition(h, geo), { lat: 40, lon: -73 });
  });

  test("CF-IPCountry maps to the country's centre; unknown codes give nothing", () => {
    const jp = clientPosition(new Headers({ "CF-IPCountry": "jp" }), geo);
    assert.ok(jp && haversineKm(jp, TOKYO) < 300);
    assert.equal(clientPosition(new Headers({ "CF-IPCountry": "XX" }), geo), undefined);
    assert.equal(clientPosition(new Headers({ "CF-IPCountry": "T1" }), geo), undefined);
    assert.equal(clientPosition(new Headers(), geo), undefined);
  });

  test("header names are configurable", () => {
    const cfg = testConfig({
      ROUTER_GEO_LAT_HEADER: "X-Geo-Lat",
      ROUTER_GEO_LON_HEADER: "X-Geo-Lon",
      ROUTER_GEO_COUNTRY_HEADERS: "X-Country",
    });
    assert.deepEqual(clientPosition(new Headers({ "x-geo-lat": "1", "x-geo-lon": "2" }), cfg), {
      lat: 1,
      lon: 2,
    });
    assert.ok(clientPosition(new Headers({ "X-Country": "FR" }), cfg));
    assert.equal(clientPosition(new Headers({ "CF-IPCountry": "FR" }), cfg), undefined);
  });

  test("country table covers the common countries", () => {
    assert.ok(COUNTRY_COUNT >= 60, `only ${COUNTRY_COUNT} countries`);
    for (const cc of ["US", "GB", "DE", "FR", "BR", "IN", "JP", "CN", "AU", "ZA", "NG", "MX", "KR", "ID"])
      assert.ok(countryPosition(cc), cc);
  });
});

describe("nearest origin choice", () => {
  test("picks the nearest origin per position", () => {
    const t = table();
    const pick = (pos: { lat: number; lon: number }) => {
      const c = t.choose("s1", pos);
      return c.kind === "ok" ? c.origin.nodeId : c.kind;
    };
    assert.equal(pick({ lat: 51.5, lon: -0.1 }), "par"); // London
    assert.equal(pick({ lat: 42.4, lon: -71.1 }), "nyc"); // Boston
    assert.equal(pick({ lat: 37.6, lon: 127.0 }), "tyo"); // Seoul
  });

  test("without a position the primary (first) origin is used; trailing slash removed", () => {
    const c = table().choose("s1", undefined);
    assert.equal(c.kind, "ok");
    if (c.kind === "ok") {
      assert.equal(c.origin.nodeId, "par");
      assert.equal(c.origin.base, "http://par.example");
    }
  });

  test("offline origins are skipped, then the stream is down, then back", () => {
    const t = table();
    t.setNodeOnline("tyo", false);
    const near = t.choose("s1", TOKYO);
    assert.equal(near.kind === "ok" && near.origin.nodeId, "par"); // Paris is nearer Tokyo than New York
    t.setNodeOnline("par", false);
    const primary = t.choose("s1", undefined);
    assert.equal(primary.kind === "ok" && primary.origin.nodeId, "nyc");
    t.setNodeOnline("nyc", false);
    assert.equal(t.choose("s1", TOKYO).kind, "down");
    t.setNodeOnline("tyo", true);
    assert.equal(t.choose("s1", PARIS).kind === "ok" && "up", "up");
  });

  test("the hot path's pick agrees with haversine everywhere, offline nodes included", () => {
    const t = new RouteTable();
    const spots = Array.from({ length: 7 }, (_, i) => ({ lat: -60 + i * 21, lon: -170 + i * 53 }));
    t.upsert(
      route(
        "many",
        spots.map((p, i) => origin(`n${i}`, `http://n${i}`, p)),
      ),
    );
    t.setNodeOnline("n3", false);
    const entry = t.get("many");
    if (!entry) throw new Error("route missing");
    for (let lat = -85; lat <= 85; lat += 17)
      for (let lon = -175; lon <= 175; lon += 23) {
        const pos = { lat, lon };
        const up: Origin[] = entry.origins.filter((o) => o.nodeId !== "n3");
        const want = up.reduce((a: Origin, b: Origin) => (haversineKm(b, pos) < haversineKm(a, pos) ? b : a));
        assert.equal(t.pick(entry, pos)?.nodeId, want.nodeId, `${lat},${lon}`);
      }
    // A node state that arrives before its routes still applies to them.
    const late = new RouteTable();
    late.setNodeOnline("tyo", false);
    late.upsert(route("s1", [origin("tyo", "http://tyo", TOKYO), origin("par", "http://par", PARIS)]));
    const c = late.choose("s1", TOKYO);
    assert.equal(c.kind === "ok" && c.origin.nodeId, "par");
  });

  test("ingest-only nodes are never chosen; unknown streams are unknown", () => {
    const t = new RouteTable();
    t.upsert(
      route("s2", [
        origin("ing", "http://ing", PARIS, "ingest"),
        origin("tx", "http://tx", TOKYO, "transcode"),
      ]),
    );
    const c = t.choose("s2", PARIS);
    assert.equal(c.kind === "ok" && c.origin.nodeId, "tx");
    assert.equal(t.choose("nope", PARIS).kind, "unknown");
  });
});

describe("request paths", () => {
  test("splits path and query without URL parsing", () => {
    assert.deepEqual(splitTarget("http://h:1/live/a/b.m3u8?x=1&y=2"), {
      path: "/live/a/b.m3u8",
      search: "?x=1&y=2",
    });
    assert.deepEqual(splitTarget("http://h/live/a/b#frag"), { path: "/live/a/b", search: "" });
    assert.deepEqual(splitTarget("http://h"), { path: "/", search: "" });
  });

  test("accepts ids and nested files; refuses traversal and odd characters", () => {
    for (const rt of [LIVE, VOD])
      assert.deepEqual(parseRoutedPath("abc_DEF-1/720p/seg_00001.m4s", rt), {
        ok: true,
        id: "abc_DEF-1",
        file: "720p/seg_00001.m4s",
      });
    for (const bad of [
      "a/../x",
      "a/./x",
      "a/%2e%2e/x",
      "a/.hidden",
      "a b/x",
      "a/x\\y",
      "a/",
      "a",
      "a//x",
      `${"x".repeat(65)}/m`,
    ])
      for (const rt of [LIVE, VOD]) assert.equal(parseRoutedPath(bad, rt).ok, false, bad);
    const noId = parseRoutedPath("", VOD);
    assert.equal(!noId.ok && noId.message, "asset id must be 1-64 characters of [A-Za-z0-9_-]");
  });

  test("the in-place parser accepts exactly what parseRoutedPath accepts, under both prefixes", () => {
    const rests = [
      "abc_DEF-1/720p/seg_00001.m4s",
      "s/master.m3u8",
      `${"x".repeat(64)}/m`,
      "a/b/c/d/e/f/g/h/i.ts",
      "a/b/c/d/e/f/g/h.ts",
      "a/../x",
      "a/./x",
      "a/%2e%2e/x",
      "a/.hidden",
      "a b/x",
      "a/x\\y",
      "a/",
      "a",
      "a//x",
      "a/x/",
      `${"x".repeat(65)}/m`,
      "",
    ];
    for (const rt of [LIVE, VOD])
      for (const rest of rests)
        for (const tail of ["", "?token=x", "?", "#frag", "?a=/b#c"]) {
          const url = `http://h:8000${rt.prefix}${rest}${tail}`;
          const start = pathStart(url);
          assert.equal(routedAt(url, start), rt, url);
          const p = parseRoutedPath(splitTarget(url).path.slice(rt.prefix.length), rt);
          assert.equal(routedId(url, start, rt), p.ok ? p.id : undefined, url);
        }
    for (const other of [
      "http://h/livex/a/b",
      "http://h/vodka/a/b",
      "http://h/vod",
      "http://h/live",
      "http://h",
    ])
      assert.equal(routedAt(other, pathStart(other)), undefined, other);
    assert.equal(pathStart("http://h:1/live/a/b"), 10);
    assert.equal(pathStart("http://h"), 8);
  });
});

describe("bootstrap snapshot vs live updates", () => {
  test("snapshot replaces the table but never undoes a newer MQTT change", () => {
    const t = new RouteTable();
    t.upsert(route("old", [origin("a", "http://a", PARIS)]), 100);
    t.upsert(route("kept", [origin("a", "http://a", PARIS)]), 100);
    t.upsert(route("fresh", [origin("b", "http://b", TOKYO)]), 300); // arrived after the request
    t.delete("gone", 300); // deleted after the request went out
    t.applySnapshot(
      [
        route("kept", [origin("c", "http://c", NEW_YORK)]),
        route("fresh", [origin("a", "http://a", PARIS)]),
        route("gone", [origin("a", "http://a", PARIS)]),
      ],
      200,
    );
    assert.deepEqual(t.ids().sort(), ["fresh", "kept"]);
    assert.equal(t.get("kept")?.origins[0]?.nodeId, "c");
    assert.equal(t.get("fresh")?.origins[0]?.nodeId, "b");
    assert.ok(t.hasBootstrapped);
  });
});
