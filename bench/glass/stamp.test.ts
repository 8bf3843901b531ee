/**
 * The glass-to-glass stamp (bench/glass/stamp.ts): bits and check round-trip; real ffmpeg stamps
 * a 720p pattern, x264 squeezes it to the ladder's lowest rung (640x360 at 800 kbit/s), and every
 * frame decodes to a wall-clock time within the run, one frame period apart.
 */
import { describe, expect, test } from "bun:test";
import { FFMPEG, reportSkip } from "../../shared/src/testkit/index.ts";
import { CANVAS_H, CANVAS_W, checkByte, decodeRgba, MOD, stampBits, stampFilter, unwrap } from "./stamp.ts";

/** RGBA band pixels of a value drawn exactly (8×8 px cells). */
function paint(ms: number): Uint8ClampedArray {
  const bits = stampBits(ms);
  const px = new Uint8ClampedArray(CANVAS_W * CANVAS_H * 4);
  for (let y = 0; y < CANVAS_H; y++)
    for (let x = 0; x < CANVAS_W; x++) {
      const on = bits[Math.floor(y / 8) * 16 + Math.floor(x / 8)] ? 255 : 0;
      px.set([on, on, on, 255], (y * CANVAS_W + x) * 4);
    }
  return px;
}

describe("glass stamp", () => {
  test("encode/decode round-trip and the check byte", () => {
    const now = 1_764_700_000_123;
    const v = decodeRgba(paint(now), CANVAS_W, CANVAS_H);
    expect(v).toBe(now % MOD);
    expect(unwrap(v as number, now + 250)).toBe(now);
    // A stamp just before a wrap of 2^24 ms, read just after it.
    const before = Math.floor(now / MOD) * MOD + MOD - 10;
    expect(unwrap(before % MOD, before + 40)).toBe(before);
    const bad = paint(now);
    bad.fill(255, 0, 8 * 4); // the first row of cell 0 alone changes nothing (outside the middle)
    expect(decodeRgba(bad, CANVAS_W, CANVAS_H)).toBe(now % MOD);
    for (let y = 2; y < 6; y++)
      bad.fill(bad[(y * CANVAS_W + 2) * 4] ? 0 : 255, (y * CANVAS_W + 2) * 4, (y * CANVAS_W + 6) * 4);
    expect(decodeRgba(bad, CANVAS_W, CANVAS_H)).toBeUndefined();
    expect(checkByte(0x010203)).toBe(6);
  });

  test.skipIf(!FFMPEG)(
    "ffmpeg's stamp survives x264 at 640x360 800 kbit/s, every frame",
    () => {
      const t0 = Date.now();
      const r = Bun.spawnSync(
        [
          FFMPEG as string,
          ...[
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=30",
          ],
          ...["-t", "2", "-vf", `${stampFilter(30)},scale=640:360`, "-c:v", "libx264", "-preset", "veryfast"],
          ...["-b:v", "800k", "-maxrate", "880k", "-bufsize", "1600k", "-f", "matroska", "pipe:1"],
        ],
        { stdout: "pipe", stderr: "pipe" },
      );
      expect(r.stderr.toString()).toBe("");
      const d = Bun.spawnSync(
        [
          FFMPEG as string,
          ...[
            "-hide_banner",
            "-loglevel",
            "error",
            "-i",
            "pipe:0",
            "-vf",
            `crop=iw:ih*2/15:0:0,scale=${CANVAS_W}:${CANVAS_H}`,
          ],
          ...["-f", "rawvideo", "-pix_fmt", "rgba", "pipe:1"],
        ],
        { stdin: r.stdout, stdout: "pipe", stderr: "pipe" },
      );
      const raw = d.stdout;
      const size = CANVAS_W * CANVAS_H * 4;
      const stamps: number[] = [];
      for (let o = 0; o + size <= raw.length; o += size) {
        const v = decodeRgba(raw.subarray(o, o + size), CANVAS_W, CANVAS_H);
        expect(v).toBeDefined();
        stamps.push(unwrap(v as number, Date.now()));
      }
      expect(stamps.length).toBeGreaterThanOrEqual(59);
      expect(stamps[0] as number).toBeGreaterThanOrEqual(t0);
      for (let i = 1; i < stamps.length; i++) {
        const step = (stamps[i] as number) - (stamps[i - 1] as number);
        expect(step).toBeGreaterThan(10);
        expect(step).toBeLessThan(80);
      }
    },
    20_000,
  );
});

if (!FFMPEG)
  reportSkip(
    "bench/glass/stamp.test.ts (ffmpeg round-trip)",
    "ffmpeg is not installed (apt-get install ffmpeg)",
  );
