import { describe, expect, test } from "bun:test";
import { timeResponse, utcTimingUrl } from "../src/time-source.ts";

describe("time source (DASH UTCTiming)", () => {
  test("the answer: xs:dateTime with ms, the same instant in Date, nothing for HEAD", async () => {
    const now = new Date("2026-12-02T16:40:01.234Z");
    const res = timeResponse("GET", { "access-control-allow-origin": "*" }, now);
    expect(await res.text()).toBe("2026-12-02T16:40:01.234Z");
    expect(res.headers.get("date")).toBe("Wed, 02 Dec 2026 16:40:01 GMT");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(await timeResponse("HEAD", {}, now).text()).toBe("");
  });

  test("the manifests' URL: configured, else the node's own /time", () => {
    expect(utcTimingUrl(undefined, "http://edge-1.example.net:8090/")).toBe(
      "http://edge-1.example.net:8090/time",
    );
    expect(utcTimingUrl("https://cdn.example.net/time", "http://edge-1:8090")).toBe(
      "https://cdn.example.net/time",
    );
  });
});
