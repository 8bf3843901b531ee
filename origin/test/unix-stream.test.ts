/**
 * The CMAF chunk socket (ADR 0099) over a real Unix socket: the first connection's bytes in order
 * to its end, a second connection closed and reported, and a stream nobody connected to ended by
 * `close()` (the transcoder died first) instead of waiting forever.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listenUnixChunks } from "../src/transcoder/unix-stream.ts";

const dir = mkdtempSync(join(tmpdir(), "unix-chunks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

const connect = (path: string) =>
  new Promise<ReturnType<typeof createConnection>>((resolve, reject) => {
    const s = createConnection(path, () => resolve(s));
    s.on("error", reject);
  });

describe("unix chunk socket", () => {
  test("reads the first connection to its end; a second one is closed and reported", async () => {
    const refused: string[] = [];
    const s = listenUnixChunks(join(dir, ".cmaf-3"), (r) => refused.push(r));
    const got = collect(s.chunks);
    const a = await connect(s.path);
    const b = await connect(s.path);
    const bClosed = new Promise((r) => b.on("close", r));
    const body = Buffer.alloc(256 * 1024, 7);
    body.write("moof", 1000);
    a.write(body.subarray(0, 100_000));
    b.write("intruder");
    a.end(body.subarray(100_000));
    await bClosed;
    expect(refused).toEqual(["a second connection to a chunk socket"]);
    expect((await got).equals(body)).toBe(true);
    s.close();
    expect(existsSync(s.path)).toBe(false);
  });

  test("nobody connected: close() ends the stream (the process is gone)", async () => {
    const s = listenUnixChunks(join(dir, ".cmaf-4"));
    const got = collect(s.chunks);
    s.close();
    expect((await got).length).toBe(0);
  });

  test("a connection still open at close() is read to its end", async () => {
    const s = listenUnixChunks(join(dir, ".cmaf-5"));
    const got = collect(s.chunks);
    const a = await connect(s.path);
    a.write("first");
    await Bun.sleep(0);
    s.close();
    a.end("-last");
    expect((await got).toString()).toBe("first-last");
  });
});
