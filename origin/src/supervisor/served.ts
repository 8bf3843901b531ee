/**
 * The playlists players read, written by the supervisor from what each transcoder run writes in
 * its own folder (`run-{runId}/`, ADR 0027). A restart or a shed rung therefore continues the same
 * media playlists: the media sequence keeps increasing, `EXT-X-DISCONTINUITY` (and a new init
 * segment) marks where the encoder restarted, and the DASH manifest gets a new Period per run.
 * Segment names never collide, since every run has its own folder. Pure apart from the caller's
 * file writes.
 */
import { posix } from "node:path";
import type { MediaPlaylistInfo } from "./playlist.ts";

export interface ServedSegment {
  /** Relative to the served playlist. */
  uri: string;
  duration: number;
  date?: string;
  /** Init segment (fMP4), relative to the served playlist. */
  map?: string;
  /** Preceded by EXT-X-DISCONTINUITY: first segment of a new run or source. */
  discontinuity: boolean;
  runId: string;
}

/** One served media playlist: a sliding window over segments of every run that fed it. */
export class ServedPlaylist {
  segments: ServedSegment[] = [];
  /** Sequence number of segments[0]. */
  mediaSequence = 0;
  discontinuitySequence = 0;
  /** The segments the last `ingest` added (a recording keeps them; recording.ts). */
  lastAdded: ServedSegment[] = [];
  /** The stream ended (its reconnect window closed): `EXT-X-ENDLIST`, and nothing more comes. */
  ended = false;
  private targetDuration: number;
  private source: { key: string; end: number } | undefined;
  private pendingDiscontinuity = false;

  constructor(
    /** Path relative to the stream folder, e.g. "media_0.m3u8" or "720p/index.m3u8". */
    readonly path: string,
    readonly window: number,
    segmentDuration: number,
    /**
     * The session comes from another node (ADR 0091): its numbers go on from there, the first
     * segment a discontinuity (so its discontinuity sequence is one past the old node's newest).
     */
    continueFrom?: { mediaSequence: number; discontinuitySequence: number },
  ) {
    this.targetDuration = Math.max(1, Math.ceil(segmentDuration));
    if (continueFrom) {
      this.mediaSequence = continueFrom.mediaSequence;
      this.discontinuitySequence = continueFrom.discontinuitySequence;
      this.pendingDiscontinuity = true;
    }
  }

  /** The next segment's media sequence number, and the discontinuity sequence of the newest. */
  position(): { next: number; discontinuity: number } {
    const tagged = this.segments.filter((s) => s.discontinuity).length;
    return {
      next: this.mediaSequence + this.segments.length,
      discontinuity: this.discontinuitySequence + tagged,
    };
  }

  /**
   * Takes the source's segments not seen yet. `key` names the source (run + playlist): a new key
   * starts a discontinuity. `sourceDir` is the source playlist's folder relative to the stream
   * folder. Returns how many segments were added.
   */
  ingest(key: string, runId: string, sourceDir: string, info: MediaPlaylistInfo): number {
    if (this.source?.key !== key) {
      if (this.segments.length > 0 || this.mediaSequence > 0) this.pendingDiscontinuity = true;
      this.source = { key, end: info.mediaSequence };
    }
    const rebase = (uri: string) => posix.relative(posix.dirname(this.path), posix.join(sourceDir, uri));
    const map = info.mapUri ? rebase(info.mapUri) : undefined;
    let added = 0;
    this.lastAdded = [];
    for (let i = Math.max(0, this.source.end - info.mediaSequence); i < info.segments.length; i++) {
      const duration = info.durations[i] ?? 0;
      this.targetDuration = Math.max(this.targetDuration, Math.round(duration));
      const seg: ServedSegment = {
        uri: rebase(info.segments[i]!),
        duration,
        ...(info.dates[i] ? { date: info.dates[i] } : {}),
        ...(map ? { map } : {}),
        discontinuity: this.pendingDiscontinuity,
        runId,
      };
      this.segments.push(seg);
      this.lastAdded.push(seg);
      this.pendingDiscontinuity = false;
      added++;
    }
    this.source.end = Math.max(this.source.end, info.mediaSequence + info.segments.length);
    while (this.segments.length > this.window) {
      const gone = this.segments.shift()!;
      this.mediaSequence++;
      if (gone.discontinuity) this.discontinuitySequence++;
    }
    return added;
  }

  /** Runs whose segments this playlist still lists. */
  runs(): Set<string> {
    return new Set(this.segments.map((s) => s.runId));
  }

  render(): string {
    const lines = [
      "#EXTM3U",
      `#EXT-X-VERSION:${playlistVersion(this.segments)}`,
      `#EXT-X-TARGETDURATION:${this.targetDuration}`,
      `#EXT-X-MEDIA-SEQUENCE:${this.mediaSequence}`,
    ];
    if (this.discontinuitySequence > 0)
      lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${this.discontinuitySequence}`);
    lines.push("#EXT-X-INDEPENDENT-SEGMENTS", ...segmentLines(this.segments));
    if (this.ended) lines.push("#EXT-X-ENDLIST");
    return `${lines.join("\n")}\n`;
  }
}

/** fMP4 segments (an init segment) need version 7; MPEG-TS is fine with 3. */
export const playlistVersion = (segments: readonly ServedSegment[]) => (segments.some((s) => s.map) ? 7 : 3);

/** The segment lines of a media playlist: discontinuities, init segments, dates, durations, URIs. */
export function segmentLines(segments: readonly ServedSegment[]): string[] {
  const lines: string[] = [];
  let map: string | undefined;
  for (const s of segments) {
    if (s.discontinuity) lines.push("#EXT-X-DISCONTINUITY");
    if (s.map && s.map !== map) {
      lines.push(`#EXT-X-MAP:URI="${s.map}"`);
      map = s.map;
    }
    if (s.date) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${s.date}`);
    lines.push(`#EXTINF:${s.duration.toFixed(6)},`, s.uri);
  }
  return lines;
}

/** One run's DASH manifest, ready to be one Period of the served manifest. */
export interface RunManifest {
  runId: string;
  /** availabilityStartTime as written, and in ms. */
  astText: string;
  ast: number;
  /** Everything before the first <Period>. */
  header: string;
  /** The Period's children, with segment templates pointing into the run's folder. */
  inner: string;
  /** What follows the Periods (ffmpeg writes `<UTCTiming>` there, as the schema orders it). */
  trailer: string;
}

/** Reads a run's dynamic MPD (ffmpeg's or gpac's); undefined until it has a Period and a start time. */
export function readRunManifest(runId: string, runDir: string, mpd: string): RunManifest | undefined {
  const p = mpd.indexOf("<Period");
  const end = mpd.lastIndexOf("</Period>");
  const ast = /availabilityStartTime="([^"]+)"/.exec(mpd.slice(0, p));
  if (p < 0 || end < p || !ast) return undefined;
  const ms = Date.parse(ast[1]!);
  if (!Number.isFinite(ms)) return undefined;
  const open = mpd.indexOf(">", p);
  const inner = mpd
    .slice(open + 1, end)
    .replace(/\b(initialization|media)="(?![a-z]+:|\/)/g, `$1="${runDir}/`)
    .replace(/<BaseURL>(?![a-z]+:|\/)/g, `<BaseURL>${runDir}/`)
    // ffmpeg marks every set bitstream-switchable, but each rung has its own init segment and SPS
    // (avc1: no parameter sets in band): a player that believes it appends the new rung's media
    // to the old decoder setup and stalls. False makes it append the new init segment first.
    .replace(/\bbitstreamSwitching="true"/g, 'bitstreamSwitching="false"');
  const close = mpd.lastIndexOf("</MPD>");
  const trailer = close > end ? mpd.slice(end + "</Period>".length, close).trim() : "";
  return { runId, astText: ast[1]!, ast: ms, header: mpd.slice(0, p), inner, trailer };
}

/**
 * The served manifest: the newest run's header with the first run's availabilityStartTime, and
 * one Period per run starting where that run's clock started (its own availabilityStartTime), so
 * every segment keeps the availability time its encoder gave it.
 */
export function composeManifest(runs: RunManifest[]): string {
  const first = runs[0]!;
  const last = runs[runs.length - 1]!;
  const header = last.header.replace(
    /availabilityStartTime="[^"]+"/,
    `availabilityStartTime="${first.astText}"`,
  );
  const periods = runs.map((r) => {
    const start = Math.max(0, (r.ast - first.ast) / 1000);
    return `<Period id="${r.runId}" start="PT${start.toFixed(3)}S">${r.inner}</Period>`;
  });
  const trailer = last.trailer ? `\n\t${last.trailer}` : "";
  return `${header}${periods.join("\n\t")}${trailer}\n</MPD>\n`;
}
