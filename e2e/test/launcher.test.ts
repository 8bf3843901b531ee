/**
 * The launcher's own logic: which Debian packages `./dionysia test` would install on a machine
 * (checked with a PATH that lacks them, whatever this machine has), and the closing lines of a
 * run: the skip list, then `tests: N passed, N failed` last (CI parses it).
 */
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findBinary } from "../../shared/src/testkit/index.ts";
import { ROOT } from "../platform.ts";

const LAUNCHER = join(ROOT, "dionysia");
/** What the launcher itself needs before it can look for anything else. */
const BASICS = ["bash", "dirname", "sort", "tr", "sed", "id", "grep", "tail", "cat"];

function bareBin(dir: string, extra: Record<string, string> = {}): string {
  const bin = join(dir, "bin");
  mkdirSync(bin);
  for (const b of BASICS) {
    const p = findBinary(b);
    if (p) symlinkSync(p, join(bin, b));
  }
  for (const [name, body] of Object.entries(extra)) {
    writeFileSync(join(bin, name), body);
    chmodSync(join(bin, name), 0o755);
  }
  return bin;
}

function launcher(args: string[], path: string) {
  const r = Bun.spawnSync([findBinary("bash") as string, LAUNCHER, ...args], {
    // No sbin fallback: the check must see exactly this PATH.
    env: { PATH: path, DIONYSIA_SBIN_PATH: "", HOME: tmpdir() },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe("./dionysia test: system packages", () => {
  test("on a machine without them, every test binary maps to its Debian package", () => {
    const dir = mkdtempSync(join(tmpdir(), "dionysia-launcher-"));
    try {
      const r = launcher(["missing-packages"], bareBin(dir));
      expect(r.code).toBe(0);
      expect(r.out).toBe(
        "required: ffmpeg mosquitto procps\noptional: ansible-core ansible-lint chromium nginx\n",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a binary already on PATH is not installed again", () => {
    const dir = mkdtempSync(join(tmpdir(), "dionysia-launcher-"));
    try {
      const sh = "#!/bin/sh\nexit 0\n";
      const bin = bareBin(dir, { nginx: sh, ffmpeg: sh, ffprobe: sh });
      const r = launcher(["missing-packages"], bin);
      expect(r.out).toBe("required: mosquitto procps\noptional: ansible-core ansible-lint chromium\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("./dionysia test: closing lines", () => {
  function summary(bunLog: string, denoLog: string, skips: string) {
    const dir = mkdtempSync(join(tmpdir(), "dionysia-summary-"));
    try {
      const files = { "bun.log": bunLog, "deno.log": denoLog, skips };
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
      return launcher(
        ["test-summary", ...Object.keys(files).map((f) => join(dir, f))],
        process.env.PATH ?? "",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test("skips are listed with their reasons, once each, before the closing line", () => {
    const r = summary(
      " 410 pass\n 3 skip\n 1 fail\n",
      "ok | 11 passed (38 steps) | 0 failed | 1 ignored (5s)\n",
      "SKIP: b.test.ts: gpac is not on PATH\nSKIP: a.test.ts: mediamtx is not on PATH\nSKIP: b.test.ts: gpac is not on PATH\n",
    );
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        "skipped: 4 test(s)",
        "  SKIP: a.test.ts: mediamtx is not on PATH",
        "  SKIP: b.test.ts: gpac is not on PATH",
        "tests: 448 passed, 1 failed",
        "",
      ].join("\n"),
    );
  });

  test("nothing skipped: only the closing line", () => {
    const r = summary(" 12 pass\n 0 fail\n", "ok | 2 passed | 0 failed (1s)\n", "");
    expect(r.out).toBe("tests: 14 passed, 0 failed\n");
  });
});
