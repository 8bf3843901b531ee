import { describe, expect, test } from "bun:test";
import { haversineKm, isValidLatLon, nearest } from "../src/geo.ts";
import {
  newSortableId,
  newStreamId,
  newStreamKey,
  randomBase62,
  SAFE_ID,
  safeEqual,
  sha256Hex,
} from "../src/ids.ts";

describe("geo", () => {
  test("haversine matches known distances", () => {
    const paris = { lat: 48.8566, lon: 2.3522 };
    const london = { lat: 51.5074, lon: -0.1278 };
    const sydney = { lat: -33.8688, lon: 151.2093 };
    expect(haversineKm(paris, london)).toBeCloseTo(343.5, 0);
    expect(haversineKm(paris, sydney)).toBeGreaterThan(16900);
    expect(haversineKm(paris, sydney)).toBeLessThan(17000);
    expect(haversineKm(paris, paris)).toBe(0);
  });

  test("nearest picks the closest, first on ties, undefined when empty", () => {
    const a = { id: "a", lat: 0, lon: 10 };
    const b = { id: "b", lat: 0, lon: -10 };
    const c = { id: "c", lat: 0, lon: 1 };
    expect(nearest([a, b, c], { lat: 0, lon: 0 })?.id).toBe("c");
    expect(nearest([a, b], { lat: 0, lon: 0 })?.id).toBe("a");
    expect(nearest([], { lat: 0, lon: 0 })).toBeUndefined();
  });

  test("isValidLatLon", () => {
    expect(isValidLatLon({ lat: 10, lon: 20 })).toBe(true);
    expect(isValidLatLon({ lat: 91, lon: 0 })).toBe(false);
    expect(isValidLatLon({ lat: Number.NaN, lon: 0 })).toBe(false);
    expect(isValidLatLon(null)).toBe(false);
  });
});

describe("ids", () => {
  test("random ids are unique, safe and of the right shape", () => {
    const ids = new Set(Array.from({ length: 2000 }, () => newStreamId()));
    expect(ids.size).toBe(2000);
    for (const id of ids) expect(SAFE_ID.test(id)).toBe(true);
    expect(newStreamKey()).toMatch(/^sk_[0-9A-Za-z]{40}$/);
    expect(randomBase62(7)).toHaveLength(7);
  });

  test("sha256 and constant-time compare", () => {
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(safeEqual("abc", "abc")).toBe(true);
    expect(safeEqual("abc", "abd")).toBe(false);
    expect(safeEqual("abc", "abcd")).toBe(false);
  });
});

describe("newSortableId", () => {
  test("ids made in one millisecond sort in the order they were made, and after earlier ones", () => {
    const earlier = newSortableId("evt", 1_800_000_000_000);
    const same = Array.from({ length: 500 }, () => newSortableId("evt", 1_800_000_000_001));
    expect([...same].sort()).toEqual(same);
    expect(earlier < (same[0] as string)).toBe(true);
    expect(new Set(same).size).toBe(500);
    for (const id of same) expect(id).toMatch(/^evt_[0-9A-Za-z]{20}$/);
  });
});
