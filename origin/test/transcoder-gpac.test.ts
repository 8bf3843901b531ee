/** gpac back end against the real binary; skipped (with a message) where gpac is not installed. */
import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ProfileSpec } from "@dionysia/shared";
import { reportSkip } from "@dionysia/shared/testkit";
import { execa } from "execa";
import { GpacBackend } from "../src/transcoder/gpac/index.ts";
import { ffprobeStreams } from "./helpers/ffprobe.ts";

const gpac = new GpacBackend();
const hasGpac = await gpac.available();
if (!hasGpac)
  reportSkip(
    "origin/test/transcoder-gpac.test.ts (gpac transcodes a file into the ladder)",
    "gpac is not on PATH (no Debian 12 package: https://gpac.io/downloads/)",
  );

const profile: ProfileSpec = {
  name: "t",
  renditions: [
    { name: "180p", codec: "h264", width: 320, height: 180, fps: 15, bitrateKbps: 300, preset: "ultrafast" },
    { name: "90p", codec: "h264", width: 160, height: 90, fps: 15, bitrateKbps: 100, preset: "ultrafast" },
  ],
  audio: { codec: "aac", bitrateKbps: 64 },
  segmentDuration: 1,
  windowSize: 4,
  formats: ["hls", "dash"],
};

test("available() is false, not a throw, when the binary is missing", async () => {
  expect(await new GpacBackend({ bin: "/nonexistent/gpac" }).available()).toBe(false);
});

test.skipIf(!hasGpac)("gpac transcodes a file into the ladder", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gpac-"));
  try {
    const input = join(dir, "in.mp4");
    await execa("ffmpeg", [
      "-v",
      "error",
      "-f",
      "lavfi",
      "-i",
      "testsrc2=size=320x180:rate=15",
      "-f",
      "lavfi",
      "-i",
      "sine",
      "-t",
      "4",
      "-c:v",
      "libx264",
      "-c:a",
      "aac",
      input,
    ]);
    const job = { streamId: "g", profile, inputUrl: input, outDir: join(dir, "out"), runId: "r" };
    for (const d of gpac.layout(job).dirs) mkdirSync(join(job.outDir, d), { recursive: true });
    const c = gpac.buildCommand(job);
    const r = await execa(c.cmd, c.args, { reject: false, timeout: 60_000 });
    expect(r.exitCode).toBe(0);
    expect(readFileSync(join(job.outDir, "manifest.mpd"), "utf8")).toContain("<MPD");
    const pl = readFileSync(join(job.outDir, "180p/index.m3u8"), "utf8");
    const seg = pl.split("\n").find((l) => l && !l.startsWith("#"))!;
    const streams = await ffprobeStreams(join(job.outDir, "180p", seg));
    expect(streams[0]?.height).toBe(180);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
