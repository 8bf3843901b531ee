/**
 * LL-DASH manifest of one stream (DASH-IF low-latency, DVB-DASH 10.20), pure: the Segmenters'
 * windows in, MPD text out. One Period from media time 0; per rendition a SegmentTemplate with
 * $Number$ into its own folder and a SegmentTimeline. The timeline announces the segment being
 * written and the one after it at their nominal duration, so a player finds the segment that
 * covers "now" in any MPD it holds and fetches it `availabilityTimeOffset` early, chunk by chunk
 * (chunked.ts); listing complete segments only would put the live edge a segment behind. Once the
 * stream has ended the MPD turns static (see `renderLiveMpd`).
 */
import type { InitInfo, TrackInfo } from "./fragment.ts";
import { defaultNaming, type PlaylistNaming } from "./playlist.ts";
import type { Segmenter } from "./segmenter.ts";
import type { Segment } from "./window.ts";

export const DASH_PROFILES = "urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019";
const UTC_HTTP_XSDATE = "urn:mpeg:dash:utc:http-xsdate:2014";
/** Value: the channel count (AAC channel configurations 1–6 are their counts). */
const CHANNEL_CONFIGURATION = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011";

export interface MpdRendition {
  /** Representation@id. */
  id: string;
  /** The rendition's folder relative to the MPD ("720p"); "" when the files lie beside it. */
  path: string;
  /** Undefined until the Segmenter has read it. */
  init?: InitInfo;
  /** The window's listed segments, oldest first (complete ones, then at most one open). */
  segments: readonly Segment[];
  /** The Segmenter's configured segment duration and part target, seconds. */
  segmentDuration: number;
  partTarget: number;
  naming?: PlaylistNaming;
  /** Bits per second; default the peak of the listed complete segments. */
  bandwidth?: number;
  /** Video frames per second ("30000/1001" or 15); omitted when unknown (the init does not say). */
  frameRate?: number | string;
}

/** A Segmenter's rendition as the MPD needs it; `init` stays undefined until ffmpeg wrote one. */
export function mpdRendition(
  seg: Segmenter,
  o: { id: string; path: string; bandwidth?: number; frameRate?: number | string },
): MpdRendition {
  const p = seg.playlistInput();
  return {
    ...o,
    init: seg.initSegment,
    segments: p.segments,
    segmentDuration: p.segmentDuration,
    partTarget: p.partTarget,
    naming: p.naming,
  };
}

export interface LatencyTargets {
  /** Seconds. */
  target: number;
  min: number;
  max: number;
}

export interface MpdInput {
  /** One per rung, highest first or any order; the first with a segment sets the clock. */
  video: readonly MpdRendition[];
  audio?: MpdRendition;
  /** `GET /time` of this node (shared/src/time-source.ts `utcTimingUrl`). */
  utcTimingUrl: string;
  /** Wall-clock ms: publishTime. */
  now: number;
  ended?: boolean;
  /** Default: `defaultLatency` of the first video rendition (else the audio). */
  latency?: LatencyTargets;
  /** Default: the segment duration (each update adds about one announced segment). */
  minimumUpdatePeriod?: number;
  /**
   * Wall-clock ms of the stream's media time 0 (its first run's); default this run's own, from the
   * first rendition's segment dates. A later run's Period starts where its own clock began.
   */
  availabilityStartTime?: number;
  /** Period@id (default "0"): a new one per encoder run. */
  periodId?: string;
  /**
   * The run this one replaced (an encoder restart), while its segments are still in the window:
   * a closed Period before this run's, so a player in it plays to its end and moves on instead of
   * asking for the segment that run never finished (dash.js stops on that 404).
   */
  previous?: { periodId: string; video: readonly MpdRendition[]; audio?: MpdRendition };
  /**
   * This run's encoder has stopped while the stream goes on (a restart under way): the timeline
   * lists complete segments only, since the open one will never be finished. The MPD stays dynamic.
   */
  stopped?: boolean;
}

/**
 * The latency a player aims at: three part targets, as LL-HLS PART-HOLD-BACK (so both protocols
 * sit at the same distance from live), never under one second; min one part (a segment is
 * available one part after it starts), max twice the target (dash.js seeks back to the target
 * beyond `max - target + 0.5` s of drift).
 */
export function defaultLatency(partTarget: number): LatencyTargets {
  const target = Math.max(1, 3 * partTarget);
  return { target, min: partTarget, max: 2 * target };
}

/**
 * How early a segment is announced: all but its first part (DASH: SAST − ATO). Rounded down to
 * the millisecond so that rounding never announces a segment before its first part exists.
 */
export function availabilityTimeOffset(segmentDuration: number, partTarget: number): number {
  return Math.max(0, Math.floor((segmentDuration - partTarget) * 1000 + 1e-6) / 1000);
}

/** The SegmentTemplate URL of a naming function: `$Number$` where the number goes. */
export function numberTemplate(name: (msn: number) => string): string {
  const probe = 987654321;
  const text = name(probe);
  const parts = text.split(String(probe));
  if (parts.length !== 2) throw new Error(`segment naming must contain the number once: ${text}`);
  return parts.join("$Number$");
}

/**
 * The MPD, or undefined until every rendition given has its init segment and a first segment
 * (so the set of Representations never changes under a player; the caller answers 404, and
 * they all start within a fragment of each other).
 *
 * An ended stream is rendered `type="static"` with `mediaPresentationDuration`: dash.js 4.7 plays
 * a dynamic MPD with SegmentTimeline to the end only when the update turns it static (its
 * `DYNAMIC_TO_STATIC` handling, DASH-IF IOP 4.6.4: the DashHandler then marks the media finished
 * and MSE gets endOfStream); a dynamic MPD that merely gains a duration leaves it waiting for a
 * next segment at the end, because its last-segment check for dynamic SegmentTimeline needs a
 * next Period. A player that opens the ended stream afresh plays the static MPD as on demand.
 */
export function renderLiveMpd(input: MpdInput): string | undefined {
  const given = input.audio ? [...input.video, input.audio] : [...input.video];
  if (given.length === 0 || !given.every(ready)) return undefined;
  const all = given as Ready[];
  const video = all.slice(0, input.video.length);
  const audio = input.audio ? all.at(-1) : undefined;
  const clock = all[0]!;
  const first = clock.segments[0]!;
  // This run's media time 0 on the wall clock; a stream's later run keeps the first run's
  // availabilityStartTime (it must never change under a player) and starts its Period later.
  const own = Math.round(first.programDateTime - first.decodeTime * 1000);
  const ast = input.availabilityStartTime ?? own;
  const periodStart = Math.max(0, (own - ast) / 1000);
  const ended = input.ended ?? false;
  const timing = clock;
  const latency = input.latency ?? defaultLatency(timing.partTarget);
  const maxSegment = Math.max(
    ...all.map((r) => r.segmentDuration),
    ...all.flatMap((r) => r.segments.filter((s) => s.complete).map((s) => s.duration)),
  );
  const mpd: Record<string, string | undefined> = {
    xmlns: "urn:mpeg:dash:schema:mpd:2011",
    profiles: DASH_PROFILES,
    type: ended ? "static" : "dynamic",
    availabilityStartTime: iso(ast),
    publishTime: iso(input.now),
  };
  if (ended) {
    const end = Math.max(...all.map((r) => endOf(r.segments)));
    mpd.mediaPresentationDuration = duration(periodStart + end);
  } else {
    mpd.minimumUpdatePeriod = duration(input.minimumUpdatePeriod ?? timing.segmentDuration);
    // What the listed complete segments span (older files linger a little longer: `retain`).
    mpd.timeShiftBufferDepth = duration(
      Math.max(...all.map((r) => r.segments.filter((s) => s.complete).reduce((n, s) => n + s.duration, 0))),
    );
    mpd.suggestedPresentationDelay = duration(latency.target);
  }
  mpd.maxSegmentDuration = duration(maxSegment);
  mpd.minBufferTime = duration(Math.max(1, timing.partTarget));

  const out = ['<?xml version="1.0" encoding="UTF-8"?>', `<MPD${attrs(mpd)}>`];
  if (!ended) {
    out.push(
      '  <ServiceDescription id="0">',
      `    <Latency${attrs({
        target: ms(latency.target),
        min: ms(latency.min),
        max: ms(latency.max),
      })}/>`,
      '    <PlaybackRate min="0.96" max="1.04"/>',
      "  </ServiceDescription>",
    );
  }
  const prev = !ended && input.previous ? closedPeriod(input.previous, ast, periodStart) : [];
  out.push(...prev);
  out.push(...periodLines(video, audio, input.periodId ?? "0", periodStart, ended || !!input.stopped));
  out.push(`  <UTCTiming${attrs({ schemeIdUri: UTC_HTTP_XSDATE, value: input.utcTimingUrl })}/>`);
  out.push("</MPD>");
  return `${out.join("\n")}\n`;
}

/** One Period: its video and audio AdaptationSets. `closedFor`: a closed Period's duration. */
function periodLines(
  video: Ready[],
  audio: Ready | undefined,
  id: string,
  start: number,
  ended: boolean,
  closedFor?: number,
): string[] {
  const out = [
    `  <Period${attrs({ id, start: duration(start), duration: closedFor === undefined ? undefined : duration(closedFor) })}>`,
  ];
  if (video.length > 0) {
    const w = Math.max(...video.map((r) => track(r, "vide")?.width ?? 0));
    const h = Math.max(...video.map((r) => track(r, "vide")?.height ?? 0));
    out.push(
      `    <AdaptationSet${attrs({
        id: "0",
        contentType: "video",
        mimeType: "video/mp4",
        segmentAlignment: "true",
        startWithSAP: "1",
        maxWidth: w ? String(w) : undefined,
        maxHeight: h ? String(h) : undefined,
      })}>`,
    );
    for (const r of video) out.push(...representation(r, "vide", ended));
    out.push("    </AdaptationSet>");
  }
  if (audio) {
    out.push(
      `    <AdaptationSet${attrs({
        id: "1",
        contentType: "audio",
        mimeType: "audio/mp4",
        segmentAlignment: "true",
        startWithSAP: "1",
      })}>`,
      ...representation(audio, "soun", ended),
      "    </AdaptationSet>",
    );
  }
  out.push("  </Period>");
  return out;
}

/**
 * The replaced run's Period, closed: its complete segments only, ending where the next Period
 * starts (or its last segment, if that is sooner). Nothing when it is not ready or ends before
 * the new Period's start by more than it lasts (nothing of it left to play).
 */
function closedPeriod(p: NonNullable<MpdInput["previous"]>, ast: number, nextStart: number): string[] {
  const given = p.audio ? [...p.video, p.audio] : [...p.video];
  if (given.length === 0 || !given.every(ready)) return [];
  const all = given as Ready[];
  const first = all[0]!.segments[0]!;
  const start = Math.max(0, (Math.round(first.programDateTime - first.decodeTime * 1000) - ast) / 1000);
  const end = Math.min(...all.map((r) => endOf(r.segments)));
  const length = Math.min(end, nextStart - start);
  if (!(length > 0)) return [];
  const video = all.slice(0, p.video.length);
  return periodLines(video, p.audio ? all.at(-1) : undefined, p.periodId, start, true, length);
}

type Ready = MpdRendition & { init: InitInfo };

function ready(r: MpdRendition): r is Ready {
  return r.init !== undefined && r.init.tracks.length > 0 && r.segments.length > 0;
}

function track(r: Ready, handler: string): TrackInfo | undefined {
  return r.init.tracks.find((t) => t.handler === handler) ?? r.init.tracks[0];
}

function timingTrack(r: Ready): TrackInfo {
  return r.init.tracks.find((t) => t.trackId === r.init.timingTrack) ?? r.init.tracks[0]!;
}

function representation(r: Ready, handler: "vide" | "soun", ended: boolean): string[] {
  const t = track(r, handler);
  const codecs = r.init.tracks
    .map((x) => x.codec)
    .filter((c): c is string => !!c)
    .join(",");
  const rep: Record<string, string | undefined> = {
    id: r.id,
    bandwidth: String(Math.max(1, Math.round(r.bandwidth ?? measuredBandwidth(r.segments)))),
    codecs: codecs || undefined,
  };
  if (handler === "vide") {
    rep.width = t?.width ? String(t.width) : undefined;
    rep.height = t?.height ? String(t.height) : undefined;
    rep.frameRate = r.frameRate === undefined ? undefined : String(r.frameRate);
  } else {
    rep.audioSamplingRate = t?.sampleRate ? String(t.sampleRate) : undefined;
  }
  const out = [`      <Representation${attrs(rep)}>`];
  if (handler === "soun" && t?.channels)
    out.push(
      `        <AudioChannelConfiguration${attrs({ schemeIdUri: CHANNEL_CONFIGURATION, value: String(t.channels) })}/>`,
    );
  out.push(...segmentTemplate(r, ended), "      </Representation>");
  return out;
}

interface TimelineEntry {
  t: number;
  d: number;
}

/**
 * The duration announced for the open and the next segment: the newest complete one's, else the
 * configured one. The window cuts an audio rendition (every fragment independent) at 75 % of the
 * target, e.g. 3 × 0.512 s = 1.536 s of 2 s, so the configured duration would be wrong there every
 * time; with it the offset below stays "available one part after it starts".
 */
export function nominalDuration(r: Pick<MpdRendition, "segments" | "segmentDuration">): number {
  const last = r.segments.filter((s) => s.complete).at(-1);
  return last && last.duration > 0 ? last.duration : r.segmentDuration;
}

/** The timeline in the rendition's timescale: complete segments, then (live) the open and next. */
export function timelineOf(r: MpdRendition, ended: boolean, timescale: number): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  const nominal = Math.round(nominalDuration(r) * timescale);
  for (const s of r.segments) {
    const t = Math.round(s.decodeTime * timescale);
    if (s.complete) entries.push({ t, d: Math.round(s.duration * timescale) });
    else if (!ended) entries.push({ t, d: Math.max(nominal, Math.round(s.duration * timescale)) });
  }
  if (!ended && entries.length > 0) {
    const last = entries.at(-1)!;
    entries.push({ t: last.t + last.d, d: nominal });
  }
  return entries;
}

function segmentTemplate(r: Ready, ended: boolean): string[] {
  const naming = r.naming ?? defaultNaming;
  const timescale = timingTrack(r).timescale;
  const path = r.path === "" ? "" : `${r.path.replace(/\/+$/, "")}/`;
  const startNumber = r.segments[0]?.msn ?? 0;
  const tpl: Record<string, string | undefined> = {
    timescale: String(timescale),
    initialization: `${path}${naming.init}`,
    media: `${path}${numberTemplate(naming.segment)}`,
    startNumber: String(startNumber),
  };
  if (!ended) {
    tpl.availabilityTimeOffset = String(availabilityTimeOffset(nominalDuration(r), r.partTarget));
    tpl.availabilityTimeComplete = "false";
  }
  const entries = timelineOf(r, ended, timescale);
  if (entries.length === 0) return [`        <SegmentTemplate${attrs(tpl)}/>`];
  return [
    `        <SegmentTemplate${attrs(tpl)}>`,
    "          <SegmentTimeline>",
    ...sElements(entries).map((s) => `            ${s}`),
    "          </SegmentTimeline>",
    "        </SegmentTemplate>",
  ];
}

/** `<S t d r>`: t where the timeline does not simply continue, r for runs of equal durations. */
function sElements(entries: TimelineEntry[]): string[] {
  const out: { t?: number; d: number; r: number }[] = [];
  let end: number | undefined;
  for (const e of entries) {
    const prev = out.at(-1);
    const continues = end === e.t;
    if (prev && continues && prev.d === e.d) prev.r++;
    else out.push({ t: continues ? undefined : e.t, d: e.d, r: 0 });
    end = e.t + e.d;
  }
  return out.map(
    (s) =>
      `<S${attrs({ t: s.t === undefined ? undefined : String(s.t), d: String(s.d), r: s.r ? String(s.r) : undefined })}/>`,
  );
}

function endOf(segments: readonly Segment[]): number {
  const last = segments.filter((s) => s.complete).at(-1);
  return last ? last.decodeTime + last.duration : 0;
}

function measuredBandwidth(segments: readonly Segment[]): number {
  let peak = 0;
  for (const s of segments)
    if (s.complete && s.duration > 0) peak = Math.max(peak, (s.length * 8) / s.duration);
  return peak;
}

function attrs(a: Record<string, string | undefined>): string {
  return Object.entries(a)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => ` ${k}="${xmlEscape(v)}"`)
    .join("");
}

function xmlEscape(v: string): string {
  return v.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** xs:duration in seconds, to the millisecond. */
function duration(seconds: number): string {
  return `PT${Number(seconds.toFixed(3))}S`;
}

function ms(seconds: number): string {
  return String(Math.round(seconds * 1000));
}
