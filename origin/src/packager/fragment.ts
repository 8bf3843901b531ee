/**
 * What the packager needs to know about an init segment (moov) and a fragment (moof): track
 * timescales and defaults, and per fragment its decode time, duration and whether it starts with
 * an independent (sync) sample. Pure; the boxes are parsed by @svta/cml-iso-bmff (ADR 0080), the
 * default-resolution rules (trun → tfhd → trex) are ISO/IEC 14496-12 8.8.
 */
import {
  type IsoBoxReaderMap,
  readAvc1,
  readAvc3,
  readHdlr,
  readHev1,
  readHvc1,
  readIsoBoxes,
  readMdhd,
  readMfhd,
  readMp4a,
  readStsd,
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
  /** RFC 6381 codec string of the first sample entry ("avc1.64001f", "mp4a.40.2"). */
  codec?: string;
  /** Visual sample entry. */
  width?: number;
  height?: number;
  /** Audio: from the AudioSpecificConfig where there is one, else the sample entry. */
  sampleRate?: number;
  channels?: number;
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
  stsd: readStsd,
  avc1: readAvc1,
  avc3: readAvc3,
  hvc1: readHvc1,
  hev1: readHev1,
  mp4a: readMp4a,
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
      ...sampleEntry(find([trak], "stsd")),
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

/** Codec string, picture size, rate and channels of a track's first sample entry (for a DASH MPD). */
function sampleEntry(stsd: Parsed | undefined): Partial<TrackInfo> {
  const entry = (stsd?.entries as Parsed[] | undefined)?.[0];
  if (!entry) return {};
  const type = entry.type;
  const config = (t: string) => payload(entry.boxes?.find((b) => b.type === t));
  if (type === "avc1" || type === "avc3") {
    const c = config("avcC");
    const codec = c && c.byteLength >= 4 ? `${type}.${hex(c.subarray(1, 4))}` : type;
    return { codec, width: entry.width as number, height: entry.height as number };
  }
  if (type === "hvc1" || type === "hev1") {
    const c = config("hvcC");
    const codec = c && c.byteLength >= 13 ? `${type}.${hevcCodec(c)}` : type;
    return { codec, width: entry.width as number, height: entry.height as number };
  }
  if (type === "mp4a") {
    const asc = audioSpecificConfig(config("esds"));
    return {
      codec: asc ? `mp4a.${hex(Uint8Array.of(asc.objectType))}.${asc.audioObjectType}` : type,
      sampleRate: asc?.sampleRate ?? (entry.samplerate as number),
      channels: asc?.channels || (entry.channelcount as number),
    };
  }
  return { codec: type };
}

/** The body of a box the reader left unparsed (its header skipped). */
function payload(box: Parsed | undefined): Uint8Array | undefined {
  const dv = (box?.view as { dataView?: DataView } | undefined)?.dataView;
  if (!dv || dv.byteLength < 8) return undefined;
  const large = dv.getUint32(0) === 1;
  return new Uint8Array(dv.buffer, dv.byteOffset + (large ? 16 : 8), dv.byteLength - (large ? 16 : 8));
}

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** ISO/IEC 14496-15 Annex E: profile space + idc, reversed compatibility flags, tier + level, constraints. */
function hevcCodec(c: Uint8Array): string {
  const space = ["", "A", "B", "C"][c[1]! >> 6]!;
  const tier = c[1]! & 0x20 ? "H" : "L";
  const profile = c[1]! & 0x1f;
  let compat = new DataView(c.buffer, c.byteOffset + 2, 4).getUint32(0);
  let reversed = 0;
  for (let i = 0; i < 32; i++, compat >>>= 1) reversed = (reversed << 1) | (compat & 1);
  const constraints = [...c.subarray(6, 12)];
  while (constraints.length > 0 && constraints.at(-1) === 0) constraints.pop();
  const tail = constraints.map((x) => `.${x.toString(16).toUpperCase()}`).join("");
  return `${space}${profile}.${(reversed >>> 0).toString(16).toUpperCase()}.${tier}${c[12]}${tail}`;
}

const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/**
 * esds (a full box): ES_Descriptor → DecoderConfigDescriptor (objectTypeIndication) →
 * DecoderSpecificInfo, the AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1).
 */
function audioSpecificConfig(
  esds: Uint8Array | undefined,
): { objectType: number; audioObjectType: number; sampleRate?: number; channels: number } | undefined {
  if (!esds || esds.byteLength < 4) return undefined;
  let off = 4;
  const descriptor = (): { tag: number; end: number } | undefined => {
    if (off >= esds.byteLength) return undefined;
    const tag = esds[off++]!;
    let size = 0;
    for (let i = 0; i < 4 && off < esds.byteLength; i++) {
      const b = esds[off++]!;
      size = (size << 7) | (b & 0x7f);
      if (!(b & 0x80)) break;
    }
    return { tag, end: Math.min(esds.byteLength, off + size) };
  };
  const es = descriptor();
  if (es?.tag !== 3) return undefined;
  const flags = esds[off + 2] ?? 0;
  off += 3;
  if (flags & 0x80) off += 2;
  if (flags & 0x40) off += 1 + (esds[off] ?? 0);
  if (flags & 0x20) off += 2;
  const dc = descriptor();
  if (dc?.tag !== 4) return undefined;
  const objectType = esds[off] ?? 0;
  off += 13;
  const dsi = descriptor();
  if (dsi?.tag !== 5 || dsi.end - off < 2) return { objectType, audioObjectType: 0, channels: 0 };
  const bits = new BitReader(esds.subarray(off, dsi.end));
  let audioObjectType = bits.read(5);
  if (audioObjectType === 31) audioObjectType = 32 + bits.read(6);
  const rateIndex = bits.read(4);
  const sampleRate = rateIndex === 15 ? bits.read(24) : AAC_RATES[rateIndex];
  return { objectType, audioObjectType, sampleRate, channels: bits.read(4) };
}

class BitReader {
  private pos = 0;
  constructor(private readonly b: Uint8Array) {}
  read(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++, this.pos++) {
      const byte = this.b[this.pos >> 3] ?? 0;
      v = v * 2 + ((byte >> (7 - (this.pos & 7))) & 1);
    }
    return v;
  }
}
