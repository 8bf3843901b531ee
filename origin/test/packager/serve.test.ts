/** answerPlaylist on a Segmenter fed fragment by fragment by the test (a real ffmpeg capture). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FFMPEG_INSTALL, requireBinary } from "@dionysia/shared/testkit";
import HLS from "hls-parser";
import type { Fragment, InitSegment } from "../../src/packager/reader.ts";
import { Segmenter } from "../../src/packager/segmenter.ts";
import { answerPlaylist } from "../../src/packager/serve.ts";
import { chunks, encodeCapture, manualPipe, readAll } from "./capture.ts";

const HAVE = requireBinary("ffmpeg", "packager serve test", FFMPEG_INSTALL);
HLS.setOptions({ strictMode: true });

let dir = "";
let init: InitSegment;
let fragments: Fragment[] = [];
let seg: Segmenter;
let pipe: ReturnType<typeof manualPipe>;
let consumed: Promise<void>;
let fed = 0;

/** Pushes the next fragment and waits until the Segmenter has written it. */
async function feed(n = 1) {
  for (let i = 0; i < n; i++) {
    const done = new Promise<void>((resolve) => {
      const off = seg.subscribe(() => {
        off();
        resolve();
      });
    });
    pipe.push(fragments[fed++]!.bytes);
    await done;
  }
}

const ask = (q: string, o = {}) => answerPlaylist(seg, new URLSearchParams(q), o);

beforeAll(async () => {
  if (!HAVE) return;
  const items = await readAll(chunks(encodeCapture(8), () => 1 << 20));
  init = items[0] as InitSegment;
  fragments = items.slice(1) as Fragment[];
  dir = mkdtempSync(join(tmpdir(), "dionysia-packager-serve-"));
  seg = new Segmenter({ dir, segmentDuration: 2, windowSize: 6, partTarget: 8 / 15 });
  pipe = manualPipe();
  consumed = seg.consume(pipe.source);
  pipe.push(init.bytes);
  await feed(6); // segment 0 complete, segment 1 has parts 0 and 1
});

afterAll(async () => {
  if (!HAVE) return;
  pipe.end();
  await consumed;
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!HAVE)("answerPlaylist", () => {
  test("a plain request is answered at once with the LL playlist", async () => {
    const a = await ask("");
    expect(a.status).toBe(200);
    expect(a.blocking).toBe(false);
    const p = HLS.parse(a.body) as InstanceType<typeof HLS.types.MediaPlaylist>;
    expect(p.segments.filter((s) => s.uri).map((s) => s.uri)).toEqual(["seg-0.m4s"]);
  });

  test("a request for the next part is held until that part is written, then names it", async () => {
    let settled = false;
    const pending = ask("_HLS_msn=1&_HLS_part=2").then((a) => {
      settled = true;
      return a;
    });
    await Bun.sleep(100);
    expect(settled).toBe(false);
    const t0 = performance.now();
    await feed();
    const a = await pending;
    expect(performance.now() - t0).toBeLessThan(150);
    expect(a.status).toBe(200);
    expect(a.body).toContain('URI="part-1.2.m4s"');
    expect(a.body).toContain('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-1.3.m4s"');
  });

  test("rendition reports are read after the wait", async () => {
    let calls = 0;
    const a = await ask("_HLS_msn=1&_HLS_part=0", {
      renditionReports: () => {
        calls++;
        return [{ uri: "../90p/index.m3u8", lastMsn: 1, lastPart: 2 }];
      },
    });
    expect(calls).toBe(1);
    expect(a.body).toContain('#EXT-X-RENDITION-REPORT:URI="../90p/index.m3u8",LAST-MSN=1,LAST-PART=2');
  });

  test("malformed or too far ahead: 400; not written in time: 503", async () => {
    expect((await ask("_HLS_msn=x")).status).toBe(400);
    expect((await ask("_HLS_part=1")).status).toBe(400);
    expect((await ask("_HLS_msn=9")).status).toBe(400);
    expect((await ask("_HLS_msn=1&_HLS_part=12")).status).toBe(400);
    expect((await ask("_HLS_msn=2&_HLS_part=0", { holdMs: 50 })).status).toBe(503);
  });

  test("a client that goes away stops its wait", async () => {
    const ac = new AbortController();
    const pending = ask("_HLS_msn=2&_HLS_part=0", { signal: ac.signal });
    ac.abort();
    expect((await pending).status).toBe(503);
  });
});
