/**
 * A GET for a segment that is still being written, answered as it grows (LL-DASH chunked
 * transfer: the MPD announces a segment `availabilityTimeOffset` early and dash.js reads the
 * response chunk by chunk). The body is the parts already written, then each new part the moment
 * the Segmenter reports it, ending when the segment completes or the stream ends.
 *
 * The bytes are read back from the segment file rather than kept in memory: the Segmenter appends
 * every part to it before it announces the part, in both addressing modes, and one file handle
 * opened at the start keeps reading the same file after the `.tmp` rename at close (and after
 * eviction unlinks it), so the stream needs neither a copy of each part nor any change to the
 * Segmenter; the page cache makes the read nearly free.
 */
import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import { waitForPart } from "./blocking.ts";
import { defaultNaming } from "./playlist.ts";
import type { Segmenter } from "./segmenter.ts";
import type { Segment } from "./window.ts";

export interface ChunkedOptions {
  /** How long a request for the next segment waits for its first part; default 3 segment durations. */
  holdMs?: number;
  /** The stream errors (the response is cut short) when no part comes for this long; default the same. */
  idleMs?: number;
  /** The client went away: stop waiting, close the file. */
  signal?: AbortSignal;
}

/**
 * Where `msn` stands: `open` (parts written, more to come), `next` (the one after the newest
 * segment: its first part is on the way), `complete` (in the window, whole on disk) or
 * undefined (evicted, never written, or further ahead).
 */
export function segmentState(seg: Segmenter, msn: number): "open" | "next" | "complete" | undefined {
  const w = seg.window;
  const last = w.last();
  const next = last ? last.msn + 1 : w.config.startMsn;
  if (msn === next) return seg.isEnded ? undefined : "next";
  const s = w.find(msn);
  if (!s) return undefined;
  return s.complete ? "complete" : "open";
}

/**
 * The body for a GET of segment `msn` while it is open, or (held until its first part exists)
 * the next one. Undefined for anything else: a complete segment is its file, to be served as
 * such (call this first: once the window says complete, the file is there under its own name);
 * undefined after a hold that timed out, was aborted or met the end of the stream means 404.
 */
export async function streamSegment(
  seg: Segmenter,
  msn: number,
  o: ChunkedOptions = {},
): Promise<ReadableStream<Uint8Array> | undefined> {
  const state = segmentState(seg, msn);
  if (state !== "open" && state !== "next") return undefined;
  const { segmentDuration, naming, partAddressing } = seg.playlistInput();
  const limit = 3 * segmentDuration * 1000;
  if (state === "next" && !(await waitForPart(seg, msn, 0, o.holdMs ?? limit, o.signal))) return undefined;
  const s = seg.window.find(msn);
  if (!s) return undefined;
  const name = (naming ?? defaultNaming).segment(msn);
  // While open, part files mode writes `<name>.tmp` (renamed at close); byte ranges write in place.
  const names = !s.complete && partAddressing !== "byterange" ? [`${name}.tmp`, name] : [name];
  const fh = await openFirst(seg.dir, names);
  if (!fh) return undefined;
  return partStream(seg, s, fh, o.idleMs ?? limit, o.signal);
}

async function openFirst(dir: string, names: string[]): Promise<FileHandle | undefined> {
  for (const n of names) {
    try {
      return await open(join(dir, n), "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
  return undefined;
}

/**
 * Pushes each new run of parts as one chunk, without waiting for the reader: the stream's life is
 * the segment's (seconds, a segment's bytes at most), so a client that stops reading holds
 * neither the file nor a listener past the segment's end.
 */
function partStream(
  seg: Segmenter,
  s: Segment,
  fh: FileHandle,
  idleMs: number,
  signal?: AbortSignal,
): ReadableStream<Uint8Array> {
  let stopped = false;
  let wake: ((woke: boolean) => void) | undefined;
  const rouse = (woke: boolean) => {
    const w = wake;
    wake = undefined;
    w?.(woke);
  };
  const unsubscribe = seg.subscribe(() => rouse(true));
  const onAbort = () => {
    stopped = true;
    rouse(false);
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  const nextWrite = () =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => rouse(false), idleMs);
      wake = (woke) => {
        clearTimeout(timer);
        resolve(woke);
      };
    });

  return new ReadableStream<Uint8Array>({
    start(controller) {
      void (async () => {
        let sent = 0;
        try {
          if (signal?.aborted) stopped = true;
          while (!stopped) {
            const n = s.parts.length;
            if (n > sent) {
              const from = s.parts[sent]!.offset;
              const last = s.parts[n - 1]!;
              const bytes = await readRange(fh, from, last.offset + last.length);
              sent = n;
              if (!stopped) controller.enqueue(bytes);
              continue;
            }
            if (s.complete) {
              controller.close();
              return;
            }
            // Checked and armed in one turn: a part reported meanwhile cannot be missed.
            if (!(await nextWrite()) && !stopped) {
              controller.error(new Error(`segment ${s.msn}: no part for ${idleMs} ms`));
              return;
            }
          }
          controller.close();
        } catch (e) {
          if (!stopped) controller.error(e);
        } finally {
          stopped = true;
          unsubscribe();
          signal?.removeEventListener("abort", onAbort);
          await fh.close().catch(() => {});
        }
      })();
    },
    cancel() {
      stopped = true;
      rouse(false);
    },
  });
}

async function readRange(fh: FileHandle, from: number, to: number): Promise<Uint8Array> {
  const buf = new Uint8Array(to - from);
  let off = 0;
  while (off < buf.byteLength) {
    const { bytesRead } = await fh.read(buf, off, buf.byteLength - off, from + off);
    if (bytesRead === 0) throw new Error(`segment file ended at ${from + off}, expected ${to}`);
    off += bytesRead;
  }
  return buf;
}
