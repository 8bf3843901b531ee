/**
 * The I/O side of one rendition's packager: consumes ffmpeg's CMAF stream (reader.ts), writes
 * the init segment, each part file and each segment file to `dir`, keeps the live window
 * (window.ts) and tells waiters (blocking.ts) the moment a part is on disk. Files appear whole:
 * written under a temporary name and renamed (ADR 0081), so a CDN or the HTTP server never
 * serves half a part.
 */
import { mkdir, open, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { PartSource } from "./blocking.ts";
import {
  defaultNaming,
  type PlaylistInput,
  type PlaylistNaming,
  type RenditionReport,
  renderMediaPlaylist,
} from "./playlist.ts";
import { type CmafItem, type InitSegment, readCmaf } from "./reader.ts";
import { LiveWindow, type Segment, type WindowConfig } from "./window.ts";

export interface SegmenterOptions extends WindowConfig {
  dir: string;
  /** Declared PART-TARGET (seconds); see `partTargetFor`. */
  partTarget: number;
  /** "files": one file per part plus the segment (default); "byterange": the segment file only. */
  partAddressing?: "files" | "byterange";
  naming?: PlaylistNaming;
  now?: () => number;
  /** Carried into every playlist (an encoder restart continues the MSNs with a new one). */
  discontinuitySequence?: number;
}

export interface PartWritten {
  msn: number;
  part: number;
  /** Wall-clock ms when the fragment's last byte came in, and when its file was on disk. */
  arrivedAt: number;
  writtenAt: number;
}

/**
 * The PART-TARGET to declare for fragments cut every `partDuration` by ffmpeg: its muxer adds
 * frames while they start before the limit, so a part can be up to one frame longer; the target
 * is the part duration rounded up to whole frames (RFC 8216bis: no part may exceed it).
 */
export function partTargetFor(partDuration: number, fps?: number): number {
  if (!fps) return partDuration;
  return Math.ceil(partDuration * fps - 1e-6) / fps;
}

export class Segmenter implements PartSource {
  readonly window: LiveWindow;
  private readonly opts: SegmenterOptions;
  private readonly naming: PlaylistNaming;
  private readonly listeners = new Set<(w?: PartWritten) => void>();
  private init?: InitSegment;
  private segmentFile?: { msn: number; handle: Awaited<ReturnType<typeof open>> };

  constructor(opts: SegmenterOptions) {
    this.opts = opts;
    this.naming = opts.naming ?? defaultNaming;
    this.window = new LiveWindow(opts);
  }

  get isEnded(): boolean {
    return this.window.isEnded;
  }

  /** The folder its files are written to (chunked.ts reads the segment in progress there). */
  get dir(): string {
    return this.opts.dir;
  }

  get initSegment(): InitSegment | undefined {
    return this.init;
  }

  has(msn: number, part?: number): boolean {
    return this.window.has(msn, part);
  }

  subscribe(listener: (w?: PartWritten) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads the stream to its end, writing as it goes; the window is ended afterwards. */
  async consume(source: AsyncIterable<Uint8Array>): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    try {
      for await (const item of readCmaf(source, this.opts.now)) await this.accept(item);
    } finally {
      await this.finish();
    }
  }

  /** The playlist input for the current window (the HTTP layer adds reports and skip). */
  playlistInput(): PlaylistInput {
    return {
      segments: this.window.listed(),
      segmentDuration: this.opts.segmentDuration,
      partTarget: Math.max(this.opts.partTarget, this.window.maxPartDuration),
      lowLatency: true,
      partAddressing: this.opts.partAddressing ?? "files",
      naming: this.naming,
      nextPart: this.window.nextPart(),
      ended: this.window.isEnded,
      discontinuitySequence: this.opts.discontinuitySequence ?? 0,
    };
  }

  /** This rendition as the other rungs' playlists report it (EXT-X-RENDITION-REPORT). */
  renditionReport(uri: string): RenditionReport | undefined {
    const last = this.window.last();
    return last && { uri, lastMsn: last.msn, lastPart: last.part };
  }

  playlist(extra: Partial<PlaylistInput> = {}): string {
    return renderMediaPlaylist({ ...this.playlistInput(), ...extra });
  }

  private async accept(item: CmafItem): Promise<void> {
    if (item.kind === "init") {
      // One init per stream: an encoder restart is a new ffmpeg, so a new Segmenter.
      this.init = item;
      await this.writeWhole(this.naming.init, item.bytes);
      return;
    }
    // Files first, then the window: a playlist rendered meanwhile never names a missing file.
    const plan = this.window.plan(item);
    const files = (this.opts.partAddressing ?? "files") === "files";
    if (plan.closesOpen) await this.closeSegmentFile(plan.msn - 1, files);
    if (files) await this.writeWhole(this.naming.part(plan.msn, plan.index), item.bytes);
    await this.appendToSegment(plan.msn, item.bytes, !files);
    if (plan.full) await this.closeSegmentFile(plan.msn, files);
    const added = this.window.add({ ...item, length: item.bytes.byteLength });
    for (const s of added.evicted) await this.remove(s);
    const written: PartWritten = {
      msn: added.msn,
      part: added.part.index,
      arrivedAt: item.arrivedAt,
      writtenAt: (this.opts.now ?? Date.now)(),
    };
    this.notify(written);
  }

  private async finish(): Promise<void> {
    const open = this.window.segments.at(-1);
    if (open && !open.complete)
      await this.closeSegmentFile(open.msn, (this.opts.partAddressing ?? "files") === "files");
    await this.segmentFile?.handle.close();
    this.segmentFile = undefined;
    this.window.end();
    this.notify();
  }

  private notify(w?: PartWritten): void {
    for (const l of [...this.listeners]) l(w);
  }

  /** The segment file grows part by part: under a temporary name for part files, else in place. */
  private async appendToSegment(msn: number, bytes: Uint8Array, inPlace: boolean): Promise<void> {
    if (this.segmentFile?.msn !== msn) {
      await this.segmentFile?.handle.close();
      const name = this.naming.segment(msn);
      const handle = await open(join(this.opts.dir, inPlace ? name : `${name}.tmp`), "w");
      this.segmentFile = { msn, handle };
    }
    await this.segmentFile.handle.write(bytes);
  }

  private async closeSegmentFile(msn: number, files: boolean): Promise<void> {
    if (this.segmentFile?.msn !== msn) return;
    await this.segmentFile.handle.close();
    this.segmentFile = undefined;
    const name = this.naming.segment(msn);
    if (files) await rename(join(this.opts.dir, `${name}.tmp`), join(this.opts.dir, name));
  }

  private async remove(s: Segment): Promise<void> {
    const names = [this.naming.segment(s.msn), ...s.parts.map((p) => this.naming.part(s.msn, p.index))];
    await Promise.all(names.map((n) => rm(join(this.opts.dir, n), { force: true })));
  }

  private async writeWhole(name: string, bytes: Uint8Array): Promise<void> {
    const tmp = join(this.opts.dir, `${name}.tmp`);
    await writeFile(tmp, bytes);
    await rename(tmp, join(this.opts.dir, name));
  }
}
