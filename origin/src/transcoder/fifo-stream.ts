/**
 * A CMAF chunk stream over a named pipe, for a back end that cannot write to an inherited
 * descriptor (gpac opens outputs by name, and a Bun child's extra descriptors are sockets it
 * cannot reopen as /dev/fd/N; ADR 0099). The origin makes the FIFO and reads it; the transcoder
 * opens it as a file. A FIFO, not a Unix socket: gpac's socket sink sends one packet per
 * scheduling turn, and its audio (a packet per AAC frame) fell behind real time; its file sink
 * keeps pace. The FIFO lives in the run's own folder (a path segment starting with "." is never
 * served), owner-only.
 */
import { closeSync, constants, openSync, rmSync } from "node:fs";

export interface FifoChunkStream {
  readonly path: string;
  /** The bytes written, in order; ends when the writer closes it, or at `close()` if none came. */
  readonly chunks: AsyncIterable<Uint8Array>;
  /**
   * The process is gone: a stream nobody opened ends now (a writer that did has closed it, so
   * its stream ends on its own), and the FIFO is removed.
   */
  close(): void;
}

/** Makes the FIFO now, so a child started next can open it at once. */
export function openFifoChunks(path: string): FifoChunkStream {
  rmSync(path, { force: true });
  const made = Bun.spawnSync(["mkfifo", "-m", "600", path], { stderr: "pipe" });
  if (made.exitCode !== 0) throw new Error(`mkfifo ${path}: ${made.stderr.toString().trim()}`);
  // Bun reads a FIFO without blocking a thread, and sees its end when the last writer closes.
  const stream = Bun.file(path).stream();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    // Open and close a writer end: the reader gets its end of stream if nobody wrote. Fails with
    // ENXIO when the reader is not open (already ended), which is as good.
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {}
    rmSync(path, { force: true });
  };
  return { path, chunks: stream, close };
}
