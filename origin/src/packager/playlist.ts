/**
 * LL-HLS media playlist of one rendition (RFC 8216bis), pure: window state in, text out. Players
 * that ignore the LL tags (EXT-X-PART, EXT-X-PRELOAD-HINT, ...) still read an ordinary live
 * playlist of complete segments, so one rendering serves both; `lowLatency: false` leaves the LL
 * tags out entirely.
 */
import type { Segment } from "./window.ts";

export interface PlaylistNaming {
  init: string;
  segment(msn: number): string;
  part(msn: number, index: number): string;
}

export const defaultNaming: PlaylistNaming = {
  init: "init.mp4",
  segment: (msn) => `seg-${msn}.m4s`,
  part: (msn, index) => `part-${msn}.${index}.m4s`,
};

export interface RenditionReport {
  /** Relative to this playlist, e.g. "../720p/index.m3u8". */
  uri: string;
  lastMsn: number;
  lastPart?: number;
}

export interface PlaylistInput {
  /** Listed segments, oldest first: complete ones, then at most one open (parts only). */
  segments: readonly Segment[];
  /** Configured segment duration (the target duration comes from it, so it never changes). */
  segmentDuration: number;
  /** PART-TARGET, seconds. */
  partTarget: number;
  lowLatency: boolean;
  /** Part files (URI per part) or byte ranges of the segment file. */
  partAddressing?: "files" | "byterange";
  naming?: PlaylistNaming;
  /** The part being written next: the preload hint. */
  nextPart?: { msn: number; part: number; offset: number };
  renditionReports?: readonly RenditionReport[];
  /** `_HLS_skip=YES`: a delta update. */
  skip?: boolean;
  ended?: boolean;
  /** EXT-X-DISCONTINUITY-SEQUENCE: bumped by each encoder restart (a new window, same MSNs on). */
  discontinuitySequence?: number;
}

/** Segments within this many target durations of the end keep their parts (Apple: 3). */
const PART_WINDOW_TARGETS = 3;
/** And at most the last three (the open one counted): players need ~PART-HOLD-BACK of parts. */
const PART_WINDOW_SEGMENTS = 3;

export function targetDuration(segmentDuration: number, segments: readonly Segment[]): number {
  // EXTINF rounded to the nearest integer must not exceed it (RFC 8216bis 4.4.3.1).
  const longest = segments.reduce((m, s) => (s.complete ? Math.max(m, Math.round(s.duration)) : m), 0);
  return Math.max(1, Math.ceil(segmentDuration - 0.001), longest);
}

export function serverControl(td: number, partTarget: number) {
  return { partHoldBack: 3 * partTarget, canSkipUntil: 6 * td };
}

export function renderMediaPlaylist(p: PlaylistInput): string {
  const naming = p.naming ?? defaultNaming;
  const ll = p.lowLatency;
  const segments = ll ? p.segments : p.segments.filter((s) => s.complete);
  const td = targetDuration(p.segmentDuration, segments);
  const ctl = serverControl(td, p.partTarget);
  const total = segments.reduce((n, s) => n + s.duration, 0);
  const skipped = ll && p.skip ? skippable(segments, total - ctl.canSkipUntil) : 0;
  // 9 only where EXT-X-SKIP needs it (a delta update, read by LL clients alone); 6 covers
  // EXT-X-MAP in a media playlist, so older players that check the version still play.
  const out = ["#EXTM3U", `#EXT-X-TARGETDURATION:${td}`, `#EXT-X-VERSION:${skipped > 0 ? 9 : 6}`];
  if (ll) {
    out.push(
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=${num(ctl.canSkipUntil)},PART-HOLD-BACK=${num(ctl.partHoldBack)}`,
      `#EXT-X-PART-INF:PART-TARGET=${num(p.partTarget)}`,
    );
  }
  // An empty window names the MSN its first segment will have (the preload hint's).
  out.push(`#EXT-X-MEDIA-SEQUENCE:${segments[0]?.msn ?? p.nextPart?.msn ?? 0}`);
  if (p.discontinuitySequence) out.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${p.discontinuitySequence}`);
  out.push(`#EXT-X-MAP:URI="${naming.init}"`);

  if (skipped > 0) out.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);

  let start = 0;
  segments.forEach((s, i) => {
    const from = start;
    start += s.duration;
    if (i < skipped) return;
    // Not on the open segment: a player that ignores parts would see a date with no segment.
    if (s.complete) out.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.programDateTime).toISOString()}`);
    // Strictly within three target durations of the end (a part exactly at the limit is past it
    // for strict parsers such as hls-parser).
    const recent =
      from > total - PART_WINDOW_TARGETS * td + 1e-6 && i >= segments.length - PART_WINDOW_SEGMENTS;
    if (ll && (!s.complete || recent)) {
      for (const part of s.parts) out.push(partLine(s, part, naming, p.partAddressing));
    }
    if (s.complete) out.push(`#EXTINF:${num(s.duration)},`, naming.segment(s.msn));
  });

  if (p.ended) out.push("#EXT-X-ENDLIST");
  else if (ll && p.nextPart) out.push(preloadHint(p.nextPart, naming, p.partAddressing));
  if (ll) {
    for (const r of p.renditionReports ?? []) {
      const lastPart = r.lastPart === undefined ? "" : `,LAST-PART=${r.lastPart}`;
      out.push(`#EXT-X-RENDITION-REPORT:URI="${r.uri}",LAST-MSN=${r.lastMsn}${lastPart}`);
    }
  }
  return `${out.join("\n")}\n`;
}

/** Leading complete segments that end before the skip boundary (RFC 8216bis 6.2.5.1). */
export function skippable(segments: readonly Segment[], boundary: number): number {
  let end = 0;
  let n = 0;
  for (const s of segments) {
    end += s.duration;
    if (!s.complete || end > boundary + 1e-9) break;
    n++;
  }
  return n;
}

function partLine(
  s: Segment,
  part: Segment["parts"][number],
  naming: PlaylistNaming,
  addressing: PlaylistInput["partAddressing"],
): string {
  const where =
    addressing === "byterange"
      ? `URI="${naming.segment(s.msn)}",BYTERANGE="${part.length}@${part.offset}"`
      : `URI="${naming.part(s.msn, part.index)}"`;
  return `#EXT-X-PART:DURATION=${num(part.duration)},${where}${part.independent ? ",INDEPENDENT=YES" : ""}`;
}

function preloadHint(
  next: NonNullable<PlaylistInput["nextPart"]>,
  naming: PlaylistNaming,
  addressing: PlaylistInput["partAddressing"],
): string {
  if (addressing === "byterange")
    return `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${naming.segment(next.msn)}",BYTERANGE-START=${next.offset}`;
  return `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${naming.part(next.msn, next.part)}"`;
}

/** Decimal seconds without float noise (0.53333, 2, 1.5). */
function num(x: number): string {
  return String(Number(x.toFixed(5)));
}
