import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { liveFiles } from "../src/http/live-file.ts";
import { parseRange, resolveLivePath } from "../src/http/paths.ts";

describe("path safety (pure)", () => {
  const root = "/data/live";
  test("accepts normal paths", () => {
    expect(resolveLivePath(root, "abc/720p/index.m3u8")).toEqual({
      ok: true,
      path: "/data/live/abc/720p/index.m3u8",
      ext: "m3u8",
    });
  });
  test.each([
    ["../etc/passwd", 400],
    ["abc/../../etc/passwd", 400],
    ["abc/%2e%2e/%2e%2e/etc/passwd", 400],
    ["abc%2f..%2f..%2fetc/passwd", 400],
    ["abc/..%5c..%5cwin.ini", 400],
    ["abc/seg%00.m4s", 400],
    ["/etc/passwd", 400],
    ["abc//x.m4s", 400],
    ["abc/.hidden", 400],
    ["abc/%E0%A4%A", 400],
    ["abc", 404],
  ])("refuses %s", (p, status) => {
    expect(resolveLivePath(root, p)).toEqual({ ok: false, status: status as 400 | 404 });
  });
  test("percent-encoded letters are decoded; the plain-path shortcut agrees with the slow route", () => {
    expect(resolveLivePath(root, "abc/%41.m3u8")).toEqual({
      ok: true,
      path: "/data/live/abc/A.m3u8",
      ext: "m3u8",
    });
    expect(resolveLivePath("/data/live/", "abc/x.M4S")).toEqual({
      ok: true,
      path: "/data/live/abc/x.M4S",
      ext: "m4s",
    });
    expect(resolveLivePath(root, "abc/noext")).toEqual({ ok: true, path: "/data/live/abc/noext", ext: "" });
    expect(resolveLivePath(root, "a.b/c")).toEqual({ ok: true, path: "/data/live/a.b/c", ext: "" });
    expect(resolveLivePath(root, "abc/")).toEqual({ ok: false, status: 400 });
    expect(resolveLivePath(root, "abc/x.m3u8/")).toEqual({ ok: false, status: 400 });
    expect(resolveLivePath(root, "abc/./x.m3u8")).toEqual({ ok: false, status: 400 });
    expect(resolveLivePath(root, `abc/${"a".repeat(129)}.m4s`)).toEqual({ ok: false, status: 400 });
  });
  test("ranges", () => {
    expect(parseRange("bytes=0-9", 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange("bytes=90-", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-10", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=100-", 100)).toBeNull();
    expect(parseRange(null, 100)).toBeUndefined();
  });
});

describe("live file lookup: one lstat, no symlinks below the root", () => {
  let top: string;
  beforeAll(() => {
    top = mkdtempSync(join(tmpdir(), "origin-livefiles-"));
    // The root itself may be a symlink (e.g. live/ on tmpfs): that is the operator's choice.
    mkdirSync(join(top, "real-live/s1/720p"), { recursive: true });
    mkdirSync(join(top, "elsewhere"), { recursive: true });
    writeFileSync(join(top, "real-live/s1/720p/a.m4s"), "abc");
    writeFileSync(join(top, "elsewhere/x.m4s"), "outside");
    symlinkSync(join(top, "real-live"), join(top, "live"));
    symlinkSync(join(top, "real-live/s1/720p/a.m4s"), join(top, "real-live/s1/720p/inside-link.m4s"));
    symlinkSync(join(top, "elsewhere"), join(top, "real-live/s1/dirlink"));
  });
  afterAll(() => rmSync(top, { recursive: true, force: true }));

  test("a regular file under a symlinked root is found with its size and mtime", () => {
    const f = liveFiles(join(top, "live")).find(join(top, "live/s1/720p/a.m4s"));
    expect(f?.size).toBe(3);
    expect(f?.mtimeMs).toBe(statSync(join(top, "real-live/s1/720p/a.m4s")).mtimeMs);
  });
  test("symlinks below the root are refused, even ones that stay inside", () => {
    const lf = liveFiles(join(top, "live"));
    expect(lf.find(join(top, "live/s1/720p/inside-link.m4s"))).toBeUndefined();
    expect(lf.find(join(top, "live/s1/dirlink/x.m4s"))).toBeUndefined();
    expect(lf.find(join(top, "live/s1/720p"))).toBeUndefined(); // a directory is not a file
    expect(lf.find(join(top, "live/s1/720p/missing.m4s"))).toBeUndefined();
  });
  test("a verified directory is re-checked after its TTL", () => {
    let t = 0;
    const lf = liveFiles(join(top, "live"), { dirTtlMs: 1000, now: () => t });
    mkdirSync(join(top, "real-live/s2/r"), { recursive: true });
    writeFileSync(join(top, "real-live/s2/r/x.m4s"), "in");
    expect(lf.find(join(top, "live/s2/r/x.m4s"))?.size).toBe(2);
    // The rendition directory is swapped for a symlink to a directory with the same file name.
    renameSync(join(top, "real-live/s2/r"), join(top, "real-live/s2/r-old"));
    symlinkSync(join(top, "elsewhere"), join(top, "real-live/s2/r"));
    writeFileSync(join(top, "elsewhere/x.m4s"), "outside");
    t = 1001;
    expect(lf.find(join(top, "live/s2/r/x.m4s"))).toBeUndefined();
  });
});
