/**
 * Which tracks an RTMP publisher sends, read from the FLV stream node-media-server already parses:
 * the onMetaData declaration (ffmpeg and OBS list `videocodecid`/`audiocodecid` for the tracks they
 * carry) and the first audio/video packets (sequence headers come first). With these the
 * supervisor starts the transcoder without probing the input (~0.8 s saved, bench/latency.ts).
 */
import type { InputTracks } from "../types.ts";
import { decodeAmf0Data, type NmsPacket } from "./nms.ts";

const FLV_AUDIO = 8;
const FLV_VIDEO = 9;
const FLV_METADATA_FLAG = 5;

export interface TrackState {
  /** From onMetaData, when the publisher sent one. */
  declared?: InputTracks;
  /** Tracks with at least one packet so far. */
  seen: InputTracks;
}

export const initialTrackState = (): TrackState => ({ seen: { video: false, audio: false } });

/** The tracks an onMetaData object declares; undefined when it is not a metadata object. */
export function declaredTracks(meta: unknown): InputTracks | undefined {
  if (!meta || typeof meta !== "object") return undefined;
  const declared: InputTracks = { video: "videocodecid" in meta, audio: "audiocodecid" in meta };
  // ffmpeg writes `framerate`, OBS `framerate` too (older encoders `videoframerate`).
  const m = meta as Record<string, unknown>;
  const rate = Number(m.framerate ?? m.videoframerate);
  if (declared.video && Number.isFinite(rate) && rate > 0 && rate <= 240) declared.frameRate = rate;
  return declared;
}

/** Folds one parsed FLV packet into the state (pure). */
export function observePacket(
  s: TrackState,
  p: Pick<NmsPacket, "codec_type" | "flags" | "data">,
): TrackState {
  if (p.codec_type === FLV_AUDIO && !s.seen.audio) return { ...s, seen: { ...s.seen, audio: true } };
  if (p.codec_type === FLV_VIDEO && !s.seen.video) return { ...s, seen: { ...s.seen, video: true } };
  if (p.flags === FLV_METADATA_FLAG && !s.declared) {
    let declared: InputTracks | undefined;
    try {
      const m = decodeAmf0Data(p.data);
      if (m.cmd === "@setDataFrame" || m.cmd === "onMetaData") declared = declaredTracks(m.dataObj);
    } catch {
      declared = undefined; // unreadable metadata: fall back to the packets alone
    }
    if (declared && (declared.video || declared.audio)) return { ...s, declared };
  }
  return s;
}

/**
 * Whether the tracks are known for sure: every declared track has arrived, or (no declaration)
 * both video and audio have. Anything less waits for the settle timer.
 */
export function tracksComplete(s: TrackState): boolean {
  const { seen, declared } = s;
  if (!seen.video && !seen.audio) return false;
  if (declared) return (!declared.video || seen.video) && (!declared.audio || seen.audio);
  return seen.video && seen.audio;
}

export interface TrackWatchOptions {
  /** After the first media packet, report what was seen by then (default 300 ms). */
  settleMs?: number;
  /** With no media packet at all, report "unknown" after this long (default 3000 ms). */
  maxWaitMs?: number;
}

/**
 * Feeds packets into the state and calls `onSettled` exactly once: at once when the tracks are
 * complete, `settleMs` after the first media packet with the tracks seen so far (an audio-only or
 * video-only publisher without metadata), or `maxWaitMs` after start with `undefined` (the
 * supervisor then probes). Nothing waits forever.
 */
export class TrackWatch {
  private state = initialTrackState();
  private settleTimer?: ReturnType<typeof setTimeout>;
  private readonly maxTimer: ReturnType<typeof setTimeout>;
  private done = false;

  constructor(
    private readonly onSettled: (tracks: InputTracks | undefined) => void,
    private readonly o: TrackWatchOptions = {},
  ) {
    this.maxTimer = setTimeout(() => this.settle(), o.maxWaitMs ?? 3000);
  }

  packet(p: NmsPacket): void {
    if (this.done) return;
    const before = this.state;
    this.state = observePacket(before, p);
    if (this.state === before) return;
    if (tracksComplete(this.state)) {
      this.settle();
      return;
    }
    const media = this.state.seen.video || this.state.seen.audio;
    if (media && !this.settleTimer)
      this.settleTimer = setTimeout(() => this.settle(), this.o.settleMs ?? 300);
  }

  /** Stops the timers without reporting (publisher gone). */
  cancel(): void {
    this.done = true;
    this.clear();
  }

  private settle(): void {
    if (this.done) return;
    this.done = true;
    this.clear();
    const { seen, declared } = this.state;
    const frameRate = seen.video ? declared?.frameRate : undefined;
    this.onSettled(seen.video || seen.audio ? { ...seen, ...(frameRate ? { frameRate } : {}) } : undefined);
  }

  private clear(): void {
    clearTimeout(this.maxTimer);
    if (this.settleTimer) clearTimeout(this.settleTimer);
  }
}
