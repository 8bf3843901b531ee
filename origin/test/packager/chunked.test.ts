/**
 * Segments streamed while they are written (LL-DASH chunked transfer): a Segmenter fed a real
 * ffmpeg capture fragment by fragment (both addressing modes), and one fed by ffmpeg in real time.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FFMPEG, FFMPEG_INSTALL, requireBinary, testPatternArgs } from "@dionysia/shared/testkit";
import { segmentState, streamSegment } from "../../src/packager/chunked.ts";
import { defaultNaming as naming } from "../../src/packager/playlist.ts";
import { cmafMuxerArgs, type Fragment, type InitSegment } from "../../src/packager/reader.ts";
import { partTargetFor, Segmenter } from "../../src/packager/segmenter.ts";
import { chunks, encodeCapture, manualPipe, readAll } from "./capture.ts";

const HAVE = requireBinary("ffmpeg", "packager chunked test", FFMPEG_INSTALL);
const dirs: string[] = [];
let init: InitSegment;
let fragments: Fragment[] = [];

beforeAll(async () => {
  if (!HAVE) return;
  const items = await readAll(chunks(encodeCapture(8), () => 1 << 20));
  init = items[0] as InitSegment;
  fragments = items.slice(1) as Fragment[];
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A Segmenter on a pipe the test feeds one fragment at a time. */
function fed(partAddressing: "files" | "byterange") {
  const dir = mkdtempSync(join(tmpdir(), "dionysia-chunked-"));
  dirs.push(dir);
  const seg = new Segmenter({ dir, segmentDuration: 2, windowSize: 6, partTarget: 8 / 15, partAddressing });
  const pipe = manualPipe();
  const consumed = seg.consume(pipe.source);
  pipe.push(init.bytes);
  let next = 0;
  /** Pushes `n` fragments, each awaited until the Segmenter reported it. */
  const feed = async (n = 1) => {
    for (let i = 0; i < n; i++) {
      const done = new Promise<void>((resolve) => {
        const off = seg.subscribe(() => {
          off();
          resolve();
        });
      });
      pipe.push(fragments[next++]!.bytes);
      await done;
    }
  };
  const end = async () => {
    pipe.end();
    await consumed;
  };
  return { dir, seg, feed, end };
}

const file = (dir: string, name: string) => new Uint8Array(readFileSync(join(dir, name)));

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** Reads a stream to its end, each chunk with the time it came. */
async function drain(stream: ReadableStream<Uint8Array>): Promise<{ bytes: Uint8Array; at: number }[]> {
  const out: { bytes: Uint8Array; at: number }[] = [];
  for await (const bytes of stream) out.push({ bytes, at: Date.now() });
  return out;
}

/** Whether a promise has settled by the time pending I/O and timers of `ms` have run. */
async function settled(p: Promise<unknown>, ms = 30): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setTimeout(r, ms));
  return done;
}

describe.skipIf(!HAVE)("streamSegment, fed fragment by fragment", () => {
  for (const mode of ["files", "byterange"] as const) {
    test(`${mode}: the open segment streams part by part and ends byte-identical to its file`, async () => {
      const { dir, seg, feed, end } = fed(mode);
      await feed(5); // segment 0 complete (4 parts), segment 1 holds part 0
      expect(segmentState(seg, 1)).toBe("open");
      const stream = await streamSegment(seg, 1);
      expect(stream).toBeDefined();
      const reader = stream!.getReader();
      const got: Uint8Array[] = [];
      const first = await reader.read();
      got.push(first.value!);
      // The part already written, before the segment is anywhere near complete.
      const s1 = seg.window.find(1)!;
      expect(s1.complete).toBe(false);
      expect(first.value!.byteLength).toBe(s1.parts[0]!.length);
      if (mode === "files") expect(first.value).toEqual(file(dir, naming.part(1, 0)));
      // Each new part comes through as its own chunk the moment it is reported.
      for (let i = 1; !s1.complete; i++) {
        const pending = reader.read();
        expect(await settled(pending)).toBe(false);
        await feed();
        const r = await pending;
        expect(r.done).toBe(false);
        expect(r.value!.byteLength).toBe(s1.parts[i]!.length);
        got.push(r.value!);
      }
      expect((await reader.read()).done).toBe(true);
      expect(got.length).toBe(s1.parts.length);
      expect(concat(got)).toEqual(file(dir, naming.segment(1)));
      await end();
    });
  }

  test("the next segment is held until its first part exists, then streams whole", async () => {
    const { dir, seg, feed, end } = fed("files");
    await feed(5);
    expect(segmentState(seg, 2)).toBe("next");
    const held = streamSegment(seg, 2);
    expect(await settled(held)).toBe(false);
    await feed(3); // segment 1 complete: 2 is next still
    expect(seg.window.find(1)!.complete).toBe(true);
    expect(await settled(held)).toBe(false);
    await feed(); // segment 2, part 0
    const stream = await held;
    expect(stream).toBeDefined();
    const drained = drain(stream!);
    await feed(3);
    expect(concat((await drained).map((c) => c.bytes))).toEqual(file(dir, naming.segment(2)));
    await end();
  });

  test("a complete segment, one further ahead, or one gone: undefined (the file server's, or 404)", async () => {
    const { seg, feed, end } = fed("files");
    expect(segmentState(seg, 0)).toBe("next"); // before the first fragment
    await feed(5);
    expect(segmentState(seg, 0)).toBe("complete");
    expect(await streamSegment(seg, 0)).toBeUndefined();
    expect(segmentState(seg, 3)).toBeUndefined();
    expect(await streamSegment(seg, 3)).toBeUndefined();
    expect(await streamSegment(seg, -1)).toBeUndefined();
    await end();
  });

  test("a hold that times out or is aborted answers undefined", async () => {
    const { seg, feed, end } = fed("files");
    await feed(5);
    const t0 = Date.now();
    expect(await streamSegment(seg, 2, { holdMs: 80 })).toBeUndefined();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(70);
    const ac = new AbortController();
    const held = streamSegment(seg, 2, { signal: ac.signal });
    ac.abort();
    expect(await held).toBeUndefined();
    await end();
  });

  test("the end of the stream ends the open segment's body (its short last part included)", async () => {
    const { dir, seg, feed, end } = fed("files");
    await feed(6);
    const stream = await streamSegment(seg, 1);
    const drained = drain(stream!);
    await feed(); // three of its four parts
    await end();
    const got = concat((await drained).map((c) => c.bytes));
    expect(seg.window.find(1)!.parts.length).toBe(3);
    expect(got).toEqual(file(dir, naming.segment(1)));
    expect(segmentState(seg, 2)).toBeUndefined(); // nothing comes after the end
    expect(await streamSegment(seg, 2)).toBeUndefined();
  });

  test("a reader that goes away stops the stream; an encoder that stalls cuts it short", async () => {
    const { dir, seg, feed, end } = fed("files");
    await feed(5);
    const cancelled = (await streamSegment(seg, 1))!.getReader();
    await cancelled.read();
    await cancelled.cancel();
    await feed(); // no enqueue on a cancelled stream (it would throw into the Segmenter's listener)
    const ac = new AbortController();
    const aborted = (await streamSegment(seg, 1, { signal: ac.signal }))!.getReader();
    expect((await aborted.read()).value!.byteLength).toBe(seg.window.find(1)!.length);
    ac.abort();
    expect((await aborted.read()).done).toBe(true);
    const stalled = drain((await streamSegment(seg, 1, { idleMs: 60 }))!);
    await expect(stalled).rejects.toThrow(/no part for 60 ms/);
    await end();
    // Every stream closed its file handle (the Segmenter closed its own at the end).
    await new Promise((r) => setTimeout(r, 20));
    if (existsSync("/proc/self/fd"))
      expect(
        readdirSync("/proc/self/fd").filter((fd) => {
          try {
            return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
          } catch {
            return false;
          }
        }),
      ).toEqual([]);
  });
});

// ffmpeg in real time: 15 fps, 2 s GOP = segment, 0.5 s parts.
const FPS = 15;
const SECONDS = 7;

describe.skipIf(!HAVE)("streamSegment on a live ffmpeg stream", () => {
  let dir = "";
  let seg: Segmenter;
  const completedAt = new Map<number, number>();
  let open1: Promise<{ bytes: Uint8Array; at: number }[]>;
  let next2: Promise<{ bytes: Uint8Array; at: number }[]>;
  let askedNextAt = 0;
  let stderr = "";

  beforeAll(async () => {
    if (!HAVE) return;
    dir = mkdtempSync(join(tmpdir(), "dionysia-chunked-live-"));
    dirs.push(dir);
    seg = new Segmenter({ dir, segmentDuration: 2, windowSize: 6, partTarget: partTargetFor(0.5, FPS) });
    const ff = spawn(
      FFMPEG!,
      [
        ...testPatternArgs({ rate: FPS, seconds: SECONDS }),
        ...["-g", String(2 * FPS), "-keyint_min", String(2 * FPS), "-sc_threshold", "0"],
        ...cmafMuxerArgs(0.5),
        "pipe:1",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    ff.stderr.on("data", (d) => {
      stderr += d;
    });
    let asked = false;
    seg.subscribe(() => {
      for (const s of seg.window.segments)
        if (s.complete && !completedAt.has(s.msn)) completedAt.set(s.msn, Date.now());
      // As a player would: the open segment once its first part is in, and the next one with it.
      if (!asked && seg.has(1, 0)) {
        asked = true;
        askedNextAt = Date.now();
        open1 = streamSegment(seg, 1).then((s) => drain(s!));
        next2 = streamSegment(seg, 2).then((s) => drain(s!));
      }
    });
    await seg.consume(ff.stdout);
  }, 30_000);

  test("the open segment's first bytes come well before it completes; the whole equals the file", async () => {
    expect(stderr).toBe("");
    const got = await open1;
    expect(got.length).toBe(seg.window.find(1)!.parts.length);
    expect(concat(got.map((c) => c.bytes))).toEqual(file(dir, naming.segment(1)));
    // Three more parts (~1.6 s of real time) were still to be encoded.
    expect(completedAt.get(1)! - got[0]!.at).toBeGreaterThanOrEqual(1000);
    // Chunks follow the encoder: spread over the segment, the last one at its completion.
    expect(got.at(-1)!.at - got[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(got.at(-1)!.at - completedAt.get(1)!).toBeLessThanOrEqual(150);
  });

  test("the next segment, asked for a segment early, streams from its first part to its end", async () => {
    const got = await next2;
    expect(concat(got.map((c) => c.bytes))).toEqual(file(dir, naming.segment(2)));
    // Held the rest of segment 1 (about 1.6 s) before its first chunk.
    expect(got[0]!.at - askedNextAt).toBeGreaterThanOrEqual(1000);
    expect(completedAt.get(2)! - got[0]!.at).toBeGreaterThanOrEqual(1000);
  });
});
