/**
 * What the packager needs to know about an init segment (moov) and a fragment (moof): track
 * timescales and defaults, and per fragment its decode time, duration and whether it starts with
 * an independent (sync) sample. Pure; the boxes are parsed by @svta/cml-iso-bmff (ADR 0080), the
 * default-resolution rules (trun → tfhd → trex) are ISO/IEC 14496-12 8.8.
 */
import {
  type IsoBoxReaderMap,
  readHdlr,
  readIsoBoxes,
  readMdhd,
  readMfhd,
  readTfdt,
  readTfhd,
  readTkhd,
  readTrex,
  readTrun,
  type TrackFragmentHeaderBox,
  type TrackRunBox,
  traverseIsoBoxes,
} from "@svta/cml-iso-bmff";

export interface TrackInfo {
  trackId: number;
  timescale: number;
  /** hdlr handler type: "vide", "soun", ... */
  handler: string;
  defaultSampleDuration: number;
  defaultSampleFlags: number;
}

export interface InitInfo {
  tracks: TrackInfo[];
  /** The track whose timeline cuts parts and segments: the first video track, else the first. */
  timingTrack: number;
}

export interface TrackFragmentInfo {
  trackId: number;
  /** tfdt, in the track's timescale. */
  baseDecodeTime: number;
  /** Sum of the sample durations, in the track's timescale. */
  duration: number;
  sampleCount: number;
  /** The first sample is a sync sample (sample_is_non_sync_sample clear). */
  startsWithSync: boolean;
}

export interface FragmentInfo {
  /** mfhd sequence number. */
  sequence: number;
  tracks: TrackFragmentInfo[];
  /** Seconds, on the timing track. */
  decodeTime: number;
  duration: number;
  /** Every video track starts with a sync sample (audio samples are all independent). */
  independent: boolean;
}

export class FragmentParseError extends Error {}

// Only the boxes read below get a reader; the rest stay unparsed views (mdat is never copied).
const readers = {
  mdhd: readMdhd,
  hdlr: readHdlr,
  tkhd: readTkhd,
  trex: readTrex,
  mfhd: readMfhd,
  tfhd: readTfhd,
  tfdt: readTfdt,
  trun: readTrun,
} satisfies Partial<IsoBoxReaderMap>;

/** ISO/IEC 14496-12 8.8.3.1: bit 16 of the sample flags. */
const NON_SYNC = 0x10000;
const TFHD_DURATION_PRESENT = 0x08;
const TFHD_FLAGS_PRESENT = 0x20;

type Parsed = { type: string; boxes?: Parsed[] } & Record<string, unknown>;

function parse(bytes: Uint8Array): Parsed[] {
  return readIsoBoxes(bytes, { readers: readers as IsoBoxReaderMap }) as unknown as Parsed[];
}

function children(box: Parsed, type: string): Parsed[] {
  return (box.boxes ?? []).filter((b) => b.type === type);
}

function find(boxes: Iterable<Parsed>, type: string): Parsed | undefined {
  for (const b of traverseIsoBoxes(boxes)) if (b.type === type) return b as Parsed;
  return undefined;
}

/** Reads the tracks of an init segment (ftyp + moov, or moov alone). */
export function parseInit(bytes: Uint8Array): InitInfo {
  const moov = parse(bytes).find((b) => b.type === "moov");
  if (!moov) throw new FragmentParseError("init segment has no moov");
  const trex = new Map<number, Parsed>();
  for (const t of find([moov], "mvex")?.boxes ?? []) if (t.type === "trex") trex.set(t.trackId as number, t);
  const tracks: TrackInfo[] = children(moov, "trak").map((trak) => {
    const tkhd = find([trak], "tkhd");
    const mdhd = find([trak], "mdhd");
    const hdlr = find([trak], "hdlr");
    if (!tkhd || !mdhd || !hdlr) throw new FragmentParseError("trak without tkhd, mdhd or hdlr");
    const trackId = tkhd.trackId as number;
    const ex = trex.get(trackId);
    return {
      trackId,
      timescale: mdhd.timescale as number,
      handler: hdlr.handlerType as string,
      defaultSampleDuration: (ex?.defaultSampleDuration as number | undefined) ?? 0,
      defaultSampleFlags: (ex?.defaultSampleFlags as number | undefined) ?? 0,
    };
  });
  if (tracks.length === 0) throw new FragmentParseError("moov has no tracks");
  const timing = tracks.find((t) => t.handler === "vide") ?? tracks[0]!;
  return { tracks, timingTrack: timing.trackId };
}

/** Reads a moof (the mdat need not be included) against the init segment's tracks. */
export function parseFragment(moofBytes: Uint8Array, init: InitInfo): FragmentInfo {
  const moof = parse(moofBytes).find((b) => b.type === "moof");
  if (!moof) throw new FragmentParseError("fragment has no moof");
  const sequence = (children(moof, "mfhd")[0]?.sequenceNumber as number | undefined) ?? 0;
  const tracks = children(moof, "traf").map((traf) => trackFragment(traf, init));
  const timing = tracks.find((t) => t.trackId === init.timingTrack);
  if (!timing) throw new FragmentParseError(`fragment ${sequence} has no traf for track ${init.timingTrack}`);
  const ts = trackOf(init, timing.trackId).timescale;
  const independent = tracks.every((t) => trackOf(init, t.trackId).handler !== "vide" || t.startsWithSync);
  return {
    sequence,
    tracks,
    decodeTime: timing.baseDecodeTime / ts,
    duration: timing.duration / ts,
    independent,
  };
}

function trackOf(init: InitInfo, trackId: number): TrackInfo {
  const t = init.tracks.find((x) => x.trackId === trackId);
  if (!t) throw new FragmentParseError(`fragment names track ${trackId}, absent from the init segment`);
  return t;
}

function trackFragment(traf: Parsed, init: InitInfo): TrackFragmentInfo {
  const tfhd = children(traf, "tfhd")[0] as unknown as TrackFragmentHeaderBox | undefined;
  if (!tfhd) throw new FragmentParseError("traf without tfhd");
  const track = trackOf(init, tfhd.trackId);
  const tfdt = children(traf, "tfdt")[0];
  if (!tfdt) throw new FragmentParseError(`traf of track ${tfhd.trackId} without tfdt`);
  // tfhd defaults apply only when their flag says they are present.
  const defDuration =
    tfhd.flags & TFHD_DURATION_PRESENT && tfhd.defaultSampleDuration !== undefined
      ? tfhd.defaultSampleDuration
      : track.defaultSampleDuration;
  const defFlags =
    tfhd.flags & TFHD_FLAGS_PRESENT && tfhd.defaultSampleFlags !== undefined
      ? tfhd.defaultSampleFlags
      : track.defaultSampleFlags;
  let duration = 0;
  let sampleCount = 0;
  let firstFlags: number | undefined;
  for (const trun of children(traf, "trun") as unknown as TrackRunBox[]) {
    trun.samples.forEach((s, i) => {
      duration += s.sampleDuration ?? defDuration;
      if (sampleCount === 0 && i === 0) firstFlags = trun.firstSampleFlags ?? s.sampleFlags ?? defFlags;
    });
    sampleCount += trun.samples.length;
  }
  return {
    trackId: tfhd.trackId,
    baseDecodeTime: tfdt.baseMediaDecodeTime as number,
    duration,
    sampleCount,
    startsWithSync: firstFlags !== undefined && (firstFlags & NON_SYNC) === 0,
  };
}
