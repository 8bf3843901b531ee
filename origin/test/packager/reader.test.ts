/**
 * Box framing and fragment reading on a real ffmpeg CMAF capture (encoded as fast as it goes),
 * fed in chunks of every size, and the Segmenter on it in byte-range mode.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FFMPEG_INSTALL, requireBinary } from "@dionysia/shared/testkit";
import HLS from "hls-parser";
import { BoxFramingError, BoxSplitter } from "../../src/packager/boxes.ts";
import type { CmafItem } from "../../src/packager/reader.ts";
import { Segmenter } from "../../src/packager/segmenter.ts";
import { chunks, encodeCapture, readAll } from "./capture.ts";

const HAVE = requireBinary("ffmpeg", "packager reader test", FFMPEG_INSTALL);
let capture: Uint8Array = new Uint8Array(0);

beforeAll(() => {
  if (HAVE) capture = encodeCapture(8);
});

const summary = (items: CmafItem[]) =>
  items.map((i) =>
    i.kind === "init"
      ? ["init", i.bytes.byteLength, i.timingTrack]
      : [i.sequence, i.decodeTime, i.duration, i.independent, i.bytes.byteLength],
  );

describe.skipIf(!HAVE)("readCmaf", () => {
  test("init first, then fragments whose bytes add up to the stream (less the trailing mfra)", async () => {
    const items = await readAll(chunks(capture, () => 65536));
    expect(items[0]?.kind).toBe("init");
    const fragments = items.filter((i) => i.kind === "fragment");
    expect(fragments.length).toBe(16);
    const total = items.reduce((n, i) => n + i.bytes.byteLength, 0);
    const tail = capture.byteLength - total;
    expect(new TextDecoder().decode(capture.subarray(total + 4, total + 8))).toBe("mfra");
    expect(tail).toBeGreaterThan(0);
    expect(fragments.filter((f) => f.independent).map((f) => f.decodeTime)).toEqual([0, 2, 4, 6]);
  });

  test("the same items whatever the chunking: one byte, primes, whole", async () => {
    const whole = summary(await readAll(chunks(capture, () => capture.byteLength)));
    expect(summary(await readAll(chunks(capture, (i) => [7, 13, 101, 4099][i % 4]!)))).toEqual(whole);
    const head = capture.subarray(0, 40_000);
    const oneByte = summary(await readAll(chunks(head, () => 1)));
    expect(oneByte).toEqual(summary(await readAll(chunks(head, () => head.byteLength))));
  });
});

describe("BoxSplitter", () => {
  const box = (type: string, body: number, large = false) => {
    const size = body + (large ? 16 : 8);
    const b = new Uint8Array(size);
    const v = new DataView(b.buffer);
    v.setUint32(0, large ? 1 : size);
    b.set(new TextEncoder().encode(type), 4);
    if (large) v.setBigUint64(8, BigInt(size));
    return b;
  };

  test("64-bit sizes, and a box held until its last byte", () => {
    const s = new BoxSplitter();
    const a = box("moof", 10);
    const b = box("mdat", 20, true);
    expect(s.push(a.subarray(0, 5))).toEqual([]);
    expect(s.push(new Uint8Array([...a.subarray(5), ...b.subarray(0, 12)])).map((x) => x.type)).toEqual([
      "moof",
    ]);
    expect(s.pending).toBe(12);
    const out = s.push(b.subarray(12));
    expect(out.map((x) => [x.type, x.bytes.byteLength])).toEqual([["mdat", 36]]);
    expect(s.pending).toBe(0);
  });

  test("sizes that cannot frame a stream are errors, not a hang", () => {
    const zero = box("mdat", 4);
    new DataView(zero.buffer).setUint32(0, 0);
    expect(() => new BoxSplitter().push(zero)).toThrow(BoxFramingError);
    const tiny = box("moof", 4);
    new DataView(tiny.buffer).setUint32(0, 3);
    expect(() => new BoxSplitter().push(tiny)).toThrow(BoxFramingError);
    expect(() => new BoxSplitter(100).push(box("mdat", 200))).toThrow(BoxFramingError);
  });
});

describe.skipIf(!HAVE)("Segmenter", () => {
  test("byte-range mode: one growing file per segment, parts as ranges, old files removed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dionysia-packager-br-"));
    try {
      const seg = new Segmenter({
        dir,
        segmentDuration: 2,
        windowSize: 2,
        retain: 0,
        partTarget: 8 / 15,
        partAddressing: "byterange",
      });
      await seg.consume(chunks(capture, () => 32768));
      expect(seg.window.segments.map((s) => s.msn)).toEqual([2, 3]);
      expect(readdirSync(dir).sort()).toEqual(["init.mp4", "seg-2.m4s", "seg-3.m4s"]);
      HLS.setOptions({ strictMode: true });
      const parsed = HLS.parse(seg.playlist()) as InstanceType<typeof HLS.types.MediaPlaylist>;
      const s3 = parsed.segments.find((s) => s.mediaSequenceNumber === 3)!;
      const file = readFileSync(join(dir, "seg-3.m4s"));
      const pieces = s3.parts.map((p) =>
        file.subarray(p.byterange!.offset!, p.byterange!.offset! + p.byterange!.length),
      );
      expect(Buffer.concat(pieces).equals(file)).toBe(true);
      // Each range is one CMAF chunk: it starts with its moof.
      for (const p of pieces) expect(p.subarray(4, 8).toString()).toBe("moof");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("part-file mode leaves no temporary files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dionysia-packager-pf-"));
    try {
      const seg = new Segmenter({ dir, segmentDuration: 2, windowSize: 6, partTarget: 8 / 15 });
      await seg.consume(chunks(capture, () => 32768));
      const files = readdirSync(dir);
      expect(files.filter((f) => f.endsWith(".tmp"))).toEqual([]);
      expect(files.filter((f) => f.startsWith("seg-")).length).toBe(4);
      expect(files.filter((f) => f.startsWith("part-")).length).toBe(16);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
