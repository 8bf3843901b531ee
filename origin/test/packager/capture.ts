/** A real ffmpeg CMAF capture for the packager tests, and a byte source driven by the test. */
import { spawnSync } from "node:child_process";
import { FFMPEG, testPatternArgs } from "@dionysia/shared/testkit";
import { type CmafItem, cmafMuxerArgs, readCmaf } from "../../src/packager/reader.ts";

/** 15 fps pattern + tone, 2 s GOP, 0.5 s fragments, encoded as fast as it goes. */
export function encodeCapture(seconds: number): Uint8Array {
  const args = [
    ...testPatternArgs({ rate: 15, seconds }).filter((a) => a !== "-re"),
    ...["-g", "30", "-keyint_min", "30", "-sc_threshold", "0"],
    ...cmafMuxerArgs(0.5),
    "pipe:1",
  ];
  const r = spawnSync(FFMPEG!, args, { maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr}`);
  return new Uint8Array(r.stdout);
}

export async function* chunks(bytes: Uint8Array, size: (i: number) => number): AsyncGenerator<Uint8Array> {
  let off = 0;
  for (let i = 0; off < bytes.byteLength; i++) {
    const n = Math.max(1, size(i));
    yield bytes.subarray(off, off + n);
    off += n;
  }
}

export async function readAll(source: AsyncIterable<Uint8Array>): Promise<CmafItem[]> {
  const out: CmafItem[] = [];
  for await (const item of readCmaf(source)) out.push(item);
  return out;
}

/** An async byte source the test pushes into, as a pipe would deliver. */
export function manualPipe() {
  const queue: (Uint8Array | null)[] = [];
  let wake: (() => void) | undefined;
  const put = (x: Uint8Array | null) => {
    queue.push(x);
    wake?.();
  };
  async function* source(): AsyncGenerator<Uint8Array> {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      const x = queue.shift()!;
      if (x === null) return;
      yield x;
    }
  }
  return { source: source(), push: (b: Uint8Array) => put(b), end: () => put(null) };
}
