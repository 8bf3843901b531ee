/**
 * The CMAF chunk FIFO (ADR 0099) over a real named pipe: a writer's bytes in order to its end
 * (also one that opens it read-write, as gpac's file sink does), a stream nobody wrote to ended by
 * `close()` (the transcoder died first) instead of waiting forever, and the FIFO removed.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openFifoChunks } from "../src/transcoder/fifo-stream.ts";

const dir = mkdtempSync(join(tmpdir(), "fifo-chunks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

describe("CMAF chunk FIFO", () => {
  test("a writer's bytes in order to its end; owner-only; removed at close()", async () => {
    const s = openFifoChunks(join(dir, ".cmaf-3.mp4"));
    const st = statSync(s.path);
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    const got = collect(s.chunks);
    const body = Buffer.alloc(256 * 1024, 7);
    body.write("moof", 1000);
    // Another process, as the transcoder is, opening it read-write (as gpac's file sink does).
    const writer = Bun.spawn(["sh", "-c", 'exec 3<>"$1"; cat >&3', "sh", s.path], {
      stdin: new Blob([body]),
    });
    expect(await writer.exited).toBe(0);
    expect((await got).equals(body)).toBe(true);
    s.close();
    expect(existsSync(s.path)).toBe(false);
  });

  test("nobody wrote: close() ends the stream (the process is gone)", async () => {
    const s = openFifoChunks(join(dir, ".cmaf-4.mp4"));
    const got = collect(s.chunks);
    await Bun.sleep(20);
    s.close();
    expect((await got).length).toBe(0);
  });

  test("a writer still open at close() is read to its end", async () => {
    const s = openFifoChunks(join(dir, ".cmaf-5.mp4"));
    const got = collect(s.chunks);
    const fd = openSync(s.path, "r+");
    writeSync(fd, "first");
    await Bun.sleep(20);
    s.close();
    writeSync(fd, "-last");
    closeSync(fd);
    expect((await got).toString()).toBe("first-last");
  });
});
