/**
 * The live window of one rendition, pure: fragments in, LL-HLS parts and segments out. Each
 * fragment is one part; a segment closes once it holds the segment duration (the encoder's GOP
 * is the segment, so the next fragment starts with a keyframe), or at the latest when an
 * independent fragment arrives after that duration. Byte offsets locate each part in its
 * segment file. No I/O and no timers: the Segmenter (segmenter.ts) does those.
 */

export interface Part {
  index: number;
  /** Seconds (from the fragment's sample durations). */
  duration: number;
  independent: boolean;
  /** Where the part's bytes lie in its segment file. */
  offset: number;
  length: number;
  decodeTime: number;
}

export interface Segment {
  msn: number;
  /** Seconds, the first part's decode time. */
  decodeTime: number;
  duration: number;
  parts: Part[];
  complete: boolean;
  /** Wall-clock ms of the first sample (EXT-X-PROGRAM-DATE-TIME). */
  programDateTime: number;
  /** Bytes so far (the whole segment file once complete). */
  length: number;
}

export interface FragmentInput {
  decodeTime: number;
  duration: number;
  independent: boolean;
  length: number;
  /** Wall-clock ms when the fragment was complete. */
  arrivedAt: number;
}

export interface WindowConfig {
  /** Target segment duration, seconds. */
  segmentDuration: number;
  /** Complete segments listed in the playlist. */
  windowSize: number;
  /** Segments kept beyond the listed ones (files still served to players that lag). */
  retain?: number;
  startMsn?: number;
  /**
   * The encoder's GOP equals the segment (default true): close a segment as soon as it holds
   * the segment duration, one part earlier than waiting for the next keyframe.
   */
  gopAligned?: boolean;
  /**
   * Cut by the media timeline, not by keyframes (audio, where every frame is a sync sample): a
   * segment ends at the fragment nearest each multiple of segmentDuration from the first one's
   * start, so audio segments line up with the video's MSN for MSN instead of drifting.
   */
  timelineAligned?: boolean;
}

export interface Added {
  msn: number;
  part: Part;
  /** A segment this fragment opened (its first part). */
  opened: boolean;
  /** Segments closed by this fragment (the previous one on a keyframe, or this one when full). */
  closed: Segment[];
  /** Segments that left the window (their files may go). */
  evicted: Segment[];
}

export interface Placement {
  msn: number;
  index: number;
  /** Byte offset in the segment file. */
  offset: number;
  /** The open segment closes before this fragment (it starts the next one). */
  closesOpen: boolean;
  /** The fragment completes its segment. */
  full: boolean;
}

/** The newest part written: what a blocking reload compares its request with. */
export interface LastPart {
  msn: number;
  part: number;
  /** Its segment is complete (the next part is part 0 of msn + 1). */
  complete: boolean;
}

// Durations come from integer sample counts; allow for rounding in the timescale.
const EPSILON = 0.001;
/** Share of the segment duration after which a keyframe starts the next segment. */
const KEYFRAME_CUT = 0.75;

export class LiveWindow {
  readonly config: Required<WindowConfig>;
  private readonly list: Segment[] = [];
  private anchor?: { wall: number; media: number };
  private ended = false;
  /** The longest part seen (a PART-TARGET must not be below it). */
  maxPartDuration = 0;
  /** Segments that did not start with an independent part (the encoder's GOP is off). */
  misaligned = 0;

  constructor(config: WindowConfig) {
    this.config = { retain: 2, startMsn: 0, gopAligned: true, timelineAligned: false, ...config };
  }

  /** Every segment held, oldest first; the last one may be open. */
  get segments(): readonly Segment[] {
    return this.list;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** The segments a playlist lists: the newest `windowSize` complete ones and the open one. */
  listed(): Segment[] {
    const open = this.open();
    const complete = this.list.filter((s) => s.complete);
    const shown = complete.slice(-this.config.windowSize);
    return open ? [...shown, open] : shown;
  }

  /**
   * Where `f` will go, without changing anything: the Segmenter writes the files first and
   * calls `add` after, so no playlist ever names a part that is not on disk yet.
   */
  plan(f: Pick<FragmentInput, "duration" | "independent"> & { decodeTime?: number }): Placement {
    const open = this.open();
    if (this.config.timelineAligned && f.decodeTime !== undefined) return this.planOnTimeline(f, open);
    // Cut on a keyframe once most of the target is in: covers a GOP that runs a little short
    // (drift, rounded frame rates) without cutting at every scene-change keyframe.
    const closesOpen =
      open !== undefined &&
      f.independent &&
      open.duration >= this.config.segmentDuration * KEYFRAME_CUT - EPSILON;
    const into = open && !closesOpen ? open : undefined;
    const prev = this.list[this.list.length - 1];
    const msn = into ? into.msn : prev ? prev.msn + 1 : this.config.startMsn;
    const before = into ? into.duration : 0;
    const full = this.config.gopAligned && before + f.duration >= this.config.segmentDuration - EPSILON;
    return { msn, index: into ? into.parts.length : 0, offset: into ? into.length : 0, closesOpen, full };
  }

  private planOnTimeline(
    f: Pick<FragmentInput, "duration"> & { decodeTime?: number },
    open: Segment | undefined,
  ): Placement {
    const prev = this.list[this.list.length - 1];
    const msn = open ? open.msn : prev ? prev.msn + 1 : this.config.startMsn;
    const origin = this.anchor?.media ?? f.decodeTime ?? 0;
    const boundary = origin + (msn - this.config.startMsn + 1) * this.config.segmentDuration;
    const end = (f.decodeTime ?? 0) + f.duration;
    const full = end >= boundary - f.duration / 2 - EPSILON;
    return {
      msn,
      index: open ? open.parts.length : 0,
      offset: open ? open.length : 0,
      closesOpen: false,
      full,
    };
  }

  add(f: FragmentInput): Added {
    if (this.ended) throw new Error("fragment after the end of the stream");
    if (!this.anchor) this.anchor = { wall: f.arrivedAt - f.duration * 1000, media: f.decodeTime };
    const plan = this.plan(f);
    const closed: Segment[] = [];
    let seg = this.open();
    if (seg && plan.closesOpen) {
      seg.complete = true;
      closed.push(seg);
      seg = undefined;
    }
    let opened = false;
    if (!seg) {
      seg = {
        msn: plan.msn,
        decodeTime: f.decodeTime,
        duration: 0,
        parts: [],
        complete: false,
        programDateTime: this.anchor.wall + (f.decodeTime - this.anchor.media) * 1000,
        length: 0,
      };
      if (!f.independent) this.misaligned++;
      this.list.push(seg);
      opened = true;
    }
    const part: Part = {
      index: seg.parts.length,
      duration: f.duration,
      independent: f.independent,
      offset: seg.length,
      length: f.length,
      decodeTime: f.decodeTime,
    };
    seg.parts.push(part);
    seg.length += f.length;
    seg.duration += f.duration;
    this.maxPartDuration = Math.max(this.maxPartDuration, f.duration);
    if (plan.full) {
      seg.complete = true;
      closed.push(seg);
    }
    return { msn: seg.msn, part, opened, closed, evicted: this.evict() };
  }

  /** End of stream: closes the open segment (it may be short). */
  end(): Segment | undefined {
    this.ended = true;
    const seg = this.open();
    if (seg) seg.complete = true;
    return seg;
  }

  last(): LastPart | undefined {
    const seg = this.list[this.list.length - 1];
    if (!seg) return undefined;
    return { msn: seg.msn, part: seg.parts.length - 1, complete: seg.complete };
  }

  /** The part a preload hint names: the one being written next, or none after the end. */
  nextPart(): { msn: number; part: number; offset: number } | undefined {
    if (this.ended) return undefined;
    const seg = this.list[this.list.length - 1];
    if (!seg) return { msn: this.config.startMsn, part: 0, offset: 0 };
    return seg.complete
      ? { msn: seg.msn + 1, part: 0, offset: 0 }
      : { msn: seg.msn, part: seg.parts.length, offset: seg.length };
  }

  /** Whether part `part` of segment `msn` exists (or, without a part, the whole segment). */
  has(msn: number, part?: number): boolean {
    const last = this.last();
    if (!last) return false;
    if (msn < last.msn) return true;
    if (msn > last.msn) return false;
    return part === undefined ? last.complete : part <= last.part;
  }

  find(msn: number): Segment | undefined {
    return this.list.find((s) => s.msn === msn);
  }

  private open(): Segment | undefined {
    const seg = this.list[this.list.length - 1];
    return seg && !seg.complete ? seg : undefined;
  }

  private evict(): Segment[] {
    const keep = this.config.windowSize + this.config.retain;
    const complete = this.list.filter((s) => s.complete).length;
    const drop = Math.max(0, complete - keep);
    return drop > 0 ? this.list.splice(0, drop) : [];
  }
}
