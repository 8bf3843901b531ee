/**
 * A CMAF chunk stream over a Unix socket, for a back end that cannot write to an inherited
 * descriptor (gpac opens outputs by name, and a Bun child's extra descriptors are sockets it
 * cannot reopen as /dev/fd/N; ADR 0099). The origin listens, the transcoder connects as a client.
 * The socket lives in the run's own folder (a path segment starting with "." is never served), and
 * only the first connection is read: a second one is closed at once and reported.
 */
import { rmSync } from "node:fs";

export interface UnixChunkStream {
  readonly path: string;
  /** The first connection's bytes, in order; ends when it closes or `close()` is called. */
  readonly chunks: AsyncIterable<Uint8Array>;
  /**
   * Stops listening and removes the socket file. A connection already read goes on to its end
   * (the writer's last bytes may still be on their way when its exit is seen); with none, the
   * stream ends now.
   */
  close(): void;
}

/** Listens on `path` now (synchronously bound, so a child started next can connect at once). */
export function listenUnixChunks(path: string, onRefused?: (reason: string) => void): UnixChunkStream {
  rmSync(path, { force: true });
  const queue: Uint8Array[] = [];
  let done = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  let reader: unknown;
  const finish = () => {
    done = true;
    notify();
  };
  const listener = Bun.listen({
    unix: path,
    socket: {
      open(s) {
        if (reader) {
          onRefused?.("a second connection to a chunk socket");
          s.end();
          return;
        }
        reader = s;
      },
      data(s, d) {
        if (s !== reader) return;
        // Copied: the buffer is the socket's, the packager may hold the chunk past this call.
        queue.push(new Uint8Array(d));
        notify();
      },
      close(s) {
        if (s === reader) finish();
      },
      error(s, err) {
        if (s === reader) {
          onRefused?.(err.message);
          finish();
        }
      },
    },
  });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    listener.stop(false);
    rmSync(path, { force: true });
    if (!reader) finish();
  };
  const chunks: AsyncIterable<Uint8Array> = {
    async *[Symbol.asyncIterator]() {
      while (true) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (done) return;
        await new Promise<void>((r) => {
          wake = r;
        });
      }
    },
  };
  return { path, chunks, close };
}
