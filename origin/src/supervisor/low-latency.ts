/**
 * The packager side of a low-latency run: one Segmenter (origin/src/packager) per CMAF stream the
 * transcoder writes, in the rendition folders plain HLS uses, with the run's id in every file name
 * (files are served `immutable`). Playlists come from memory: a blocking reload is answered the
 * moment its part is on disk. An encoder restart (shed, recover, crash) starts a new run that
 * continues the MSNs with the next discontinuity sequence, so players keep their playlists.
 */
import { join, posix } from "node:path";
import { type Logger, TIME_PATH } from "@dionysia/shared";
import { holdLimitMs } from "../packager/blocking.ts";
import { type MpdRendition, mpdRendition, renderLiveMpd } from "../packager/mpd.ts";
import { type PlaylistNaming, type RenditionReport, targetDuration } from "../packager/playlist.ts";
import { partTargetFor, Segmenter } from "../packager/segmenter.ts";
import { answerPlaylist, type PlaylistAnswer } from "../packager/serve.ts";
import { DEFAULT_FPS } from "../transcoder/codecs.ts";
import { planOutputs } from "../transcoder/plan.ts";
import type { CmafOutput, OutputLayout, TranscodeJob } from "../transcoder/types.ts";
import type { ServedSegment } from "./served.ts";

/** AAC frames carry 1024 samples: a part may run one frame over its duration. */
const AAC_FRAME = 1024;

export function runNaming(runId: string): PlaylistNaming {
  return {
    init: `init-${runId}.mp4`,
    segment: (msn) => `seg-${runId}-${msn}.m4s`,
    part: (msn, index) => `part-${runId}-${msn}.${index}.m4s`,
  };
}

/** The run's names as seen from another rendition's playlist (`../480p/seg-…`). */
function relativeNaming(runId: string, fromPlaylist: string, dir: string): PlaylistNaming {
  const n = runNaming(runId);
  const up = posix.relative(posix.dirname(fromPlaylist), dir);
  return {
    init: posix.join(up, n.init),
    segment: (msn) => posix.join(up, n.segment(msn)),
    part: (msn, i) => posix.join(up, n.part(msn, i)),
  };
}

/** A file name of a low-latency run: which segment (and part) it is. */
export function parseRunFile(name: string): { runId: string; msn: number; part?: number } | undefined {
  const m = /^(?:seg-([a-z0-9]+)-([0-9]+)|part-([a-z0-9]+)-([0-9]+)\.([0-9]+))\.m4s$/.exec(name);
  if (!m) return undefined;
  if (m[1]) return { runId: m[1], msn: Number(m[2]) };
  return { runId: m[3]!, msn: Number(m[4]), part: Number(m[5]) };
}

interface Rung {
  out: CmafOutput;
  seg: Segmenter;
}

const hasSegment = (r: Rung) => r.seg.window.segments.some((s) => s.complete);

/** Wall-clock ms of a rendition's media time 0 (as renderLiveMpd computes it), once it has one. */
function ownAst(r: Rung | undefined): number | undefined {
  const first = r?.seg.window.segments[0];
  return first && Math.round(first.programDateTime - first.decodeTime * 1000);
}

export class LowLatencyRun {
  readonly runId: string;
  readonly rungs: Rung[];
  readonly discontinuitySequence: number;
  /** ENDLIST only when the stream really ended; a run replaced by the next one just stops. */
  endList = false;
  /** The profile asks for DASH: an LL-DASH manifest from the same chunks (ADR 0082). */
  readonly dash: boolean;
  private readonly utcTimingUrl: string;
  private readonly byPlaylist = new Map<string, Rung>();
  /** The run that replaced this one (an encoder restart), and requests waiting for it. */
  private successor?: LowLatencyRun;
  /** The run this one replaced: it answers for a playlist until this run has a segment of it. */
  private predecessor?: LowLatencyRun;
  /** The stream's availabilityStartTime: its first run's media time 0 on the wall clock. */
  private firstAst?: number;
  /** The run this one replaced, kept for its closed Period in the LL-DASH manifest (one back only). */
  private earlier?: LowLatencyRun;
  private readonly startedAt = Date.now();
  /** Playlists earlier runs served that this one has not (rungs shed under load). */
  private readonly former = new Set<string>();
  private readonly successorWaiters = new Set<(next: LowLatencyRun) => void>();

  constructor(
    job: TranscodeJob,
    layout: OutputLayout,
    streamDir: string,
    previous?: LowLatencyRun,
    /** A session taken over from another node (ADR 0091): its numbers go on from there. */
    continueFrom?: { mediaSequence: number; discontinuitySequence: number },
  ) {
    const plan = planOutputs(job);
    this.runId = job.runId ?? "0";
    this.dash = Boolean(layout.dash);
    this.utcTimingUrl = job.utcTimingUrl ?? TIME_PATH;
    const start = previous ? previous.nextMsn() : (continueFrom?.mediaSequence ?? 0);
    this.discontinuitySequence = previous
      ? previous.discontinuitySequence + 1
      : continueFrom
        ? continueFrom.discontinuitySequence + 1
        : 0;
    const naming = runNaming(this.runId);
    this.rungs = (layout.cmaf ?? []).map((out) => {
      const rate =
        out.kind === "audio"
          ? (plan.audio?.sampleRate ?? 48000) / AAC_FRAME
          : (out.rendition?.fps ?? DEFAULT_FPS);
      const seg = new Segmenter({
        dir: join(streamDir, out.dir),
        segmentDuration: plan.segmentDuration,
        windowSize: plan.windowSize,
        partTarget: partTargetFor(plan.partDuration, rate),
        startMsn: start,
        discontinuitySequence: this.discontinuitySequence,
        // Audio frames are all sync samples: cut on the timeline so its MSNs match the video's.
        ...(out.kind === "audio" ? { gopAligned: false, timelineAligned: true } : {}),
        naming,
      });
      const rung = { out, seg };
      this.byPlaylist.set(out.playlist, rung);
      return rung;
    });
    if (previous) {
      this.firstAst = previous.streamAst();
      for (const p of [...previous.former, ...previous.byPlaylist.keys()])
        if (!this.byPlaylist.has(p)) this.former.add(p);
      this.predecessor = previous;
      // A run replaced before its first segment has no Period: the one before it stays.
      this.earlier = previous.ready() ? previous : previous.earlier;
      // One Period back is enough (a player is at most one restart behind); the chain goes.
      previous.earlier = undefined;
      previous.supersede(this);
    }
  }

  private supersede(next: LowLatencyRun): void {
    this.successor = next;
    for (const w of this.successorWaiters) w(next);
    this.successorWaiters.clear();
  }

  private awaitSuccessor(timeoutMs: number, signal?: AbortSignal): Promise<LowLatencyRun | undefined> {
    if (this.successor || timeoutMs <= 0 || signal?.aborted) return Promise.resolve(this.successor);
    return new Promise((resolve) => {
      const done = (next?: LowLatencyRun) => {
        clearTimeout(timer);
        this.successorWaiters.delete(done);
        resolve(next);
      };
      const timer = setTimeout(() => done(), timeoutMs);
      this.successorWaiters.add(done);
      signal?.addEventListener("abort", () => done(), { once: true });
    });
  }

  /**
   * Each segment as it completes, per playlist (stream-folder relative) with its URIs relative to
   * it: a recording keeps them (ADR 0095). Set before `consume`.
   */
  onSegment?: (playlist: string, seg: ServedSegment) => void;

  /** Calls `onSegment` for the rung's segments completed since the last call (on every part). */
  private watchSegments(r: Rung): () => void {
    const naming = runNaming(this.runId);
    let next = r.seg.window.config.startMsn;
    const first = next;
    return r.seg.subscribe(() => {
      for (const s of r.seg.window.segments) {
        if (s.msn < next || !s.complete) continue;
        next = s.msn + 1;
        this.onSegment?.(r.out.playlist, {
          uri: naming.segment(s.msn),
          duration: s.duration,
          date: new Date(s.programDateTime).toISOString(),
          map: naming.init,
          // The first segment of a run that continues an earlier one: a new encoder.
          discontinuity: s.msn === first && this.discontinuitySequence > 0,
          runId: this.runId,
        });
      }
    });
  }

  /** Reads every chunk stream to its end (the process exit ends them). */
  consume(pipes: AsyncIterable<Uint8Array>[], log: Logger): Promise<void> {
    return Promise.all(
      this.rungs.map(async (r) => {
        const pipe = pipes[r.out.fd - 3];
        if (!pipe) throw new Error(`no pipe for descriptor ${r.out.fd}`);
        if (this.onSegment) this.watchSegments(r);
        try {
          await r.seg.consume(pipe);
        } catch (err) {
          // A broken chunk stream ends that rendition; the run's watch sees its output stop.
          log.warn({ playlist: r.out.playlist, err: (err as Error).message }, "cmaf stream unreadable");
        }
      }),
    ).then(() => undefined);
  }

  /** Complete segments written, over every rendition (the output watch's progress). */
  segments(): number {
    let n = 0;
    for (const r of this.rungs) {
      const last = r.seg.window.last();
      if (last) n += last.msn - r.seg.window.config.startMsn + (last.complete ? 1 : 0);
    }
    return n;
  }

  /** Every rendition has a complete segment: the master may be written. */
  ready(): boolean {
    return this.rungs.length > 0 && this.rungs.every(hasSegment);
  }

  segmenter(playlist: string): Segmenter | undefined {
    return this.byPlaylist.get(playlist)?.seg;
  }

  /** The segmenter writing into `dir` (a rendition folder). */
  segmenterIn(dir: string): Segmenter | undefined {
    return this.rungs.find((r) => r.out.dir === dir)?.seg;
  }

  /** A media playlist request; undefined when `playlist` is not one of this run's. */
  answer(
    playlist: string,
    query: URLSearchParams,
    signal?: AbortSignal,
  ): Promise<PlaylistAnswer> | undefined {
    if (this.predecessor && this.ready()) this.predecessor = undefined;
    const rung = this.byPlaylist.get(playlist);
    // Until this run has a segment of the playlist, the one it replaced goes on answering (its
    // window, not ended): players never see an empty or shrunken window across a restart.
    if (this.predecessor && !(rung && hasSegment(rung))) {
      // Through the whole chain: a run replaced again before its first segment has nothing yet.
      const a = this.predecessor.answer(playlist, query, signal);
      if (a) return a;
    }
    if (rung) return this.answerFrom(rung, playlist, query, signal);
    // A rung shed under load: players that read the master before go on with the top rung left,
    // its files named from the shed rung's folder (as plain HLS does, ADR 0027); one new init
    // segment and the discontinuity sequence tell them.
    const top = this.rungs.find((r) => r.out.kind === "video");
    if (!top || !this.former.has(playlist)) return undefined;
    return this.answerFrom(top, playlist, query, signal, relativeNaming(this.runId, playlist, top.out.dir));
  }

  /** This run's own answer, never its predecessor's. */
  private answerOwn(
    playlist: string,
    query: URLSearchParams,
    signal?: AbortSignal,
  ): Promise<PlaylistAnswer> | undefined {
    const rung = this.byPlaylist.get(playlist);
    return rung && this.answerFrom(rung, playlist, query, signal);
  }

  private async answerFrom(
    rung: Rung,
    playlist: string,
    query: URLSearchParams,
    signal?: AbortSignal,
    naming?: PlaylistNaming,
  ): Promise<PlaylistAnswer> {
    const started = Date.now();
    const a = await answerPlaylist(rung.seg, query, {
      signal,
      renditionReports: () => this.reportsFor(rung),
      ended: this.endList,
      ...(naming ? { naming } : {}),
    });
    // An encoder restart under way: a held request goes on waiting, for the part from the next
    // run (it continues the MSNs), instead of coming back at once and being asked again.
    const msn = query.get("_HLS_msn");
    const part = query.get("_HLS_part");
    if (a.status !== 200 || !a.blocking || !rung.seg.isEnded || this.endList || msn === null) return a;
    if (rung.seg.has(Number(msn), part === null ? undefined : Number(part))) return a;
    const limit = holdLimitMs(targetDuration(rung.seg.playlistInput().segmentDuration, []));
    const next = await this.awaitSuccessor(limit - (Date.now() - started), signal);
    return (await next?.answerOwn(playlist, query, signal)) ?? a;
  }

  /**
   * The LL-DASH manifest (ADR 0082), or undefined: no DASH asked for, or not every rendition has
   * a segment yet. Like the playlists, the run it replaced answers until this one is ready.
   */
  manifest(now = Date.now()): string | undefined {
    if (!this.dash) return undefined;
    if (this.predecessor && !this.ready()) return this.predecessor.manifest(now);
    this.predecessor = undefined;
    const ast = this.streamAst();
    const stopped = this.rungs.every((r) => r.seg.isEnded);
    // The closed Period goes once the live window has moved past it (DASH-IF: no Period wholly
    // before the time-shift buffer is needed).
    const span =
      (this.rungs[0]?.seg.window.config.segmentDuration ?? 1) *
      (this.rungs[0]?.seg.window.config.windowSize ?? 6);
    if (this.earlier && now - this.startedAt > span * 1000) this.earlier = undefined;
    const previous = this.earlier?.periodInput();
    return renderLiveMpd({
      ...(ast !== undefined ? { availabilityStartTime: ast } : {}),
      ...this.periodInput(),
      ...(previous ? { previous } : {}),
      utcTimingUrl: this.utcTimingUrl,
      now,
      ended: this.endList && stopped,
      stopped,
    });
  }

  /** This run's renditions as one Period of the LL-DASH manifest. */
  private periodInput(): { periodId: string; video: MpdRendition[]; audio?: MpdRendition } {
    const video = this.rungs
      .filter((r) => r.out.kind === "video")
      .map((r) =>
        mpdRendition(r.seg, {
          id: r.out.dir,
          path: r.out.dir,
          ...(r.out.rendition?.bitrateKbps ? { bandwidth: r.out.rendition.bitrateKbps * 1000 } : {}),
          frameRate: r.out.rendition?.fps ?? DEFAULT_FPS,
        }),
      );
    const audio = this.rungs.find((r) => r.out.kind === "audio");
    return {
      periodId: this.runId,
      video,
      ...(audio ? { audio: mpdRendition(audio.seg, { id: audio.out.dir, path: audio.out.dir }) } : {}),
    };
  }

  /** The stream's availabilityStartTime: the first run's, inherited by every later one. */
  streamAst(): number | undefined {
    this.firstAst ??= ownAst(this.rungs[0]);
    return this.firstAst;
  }

  /** The MSN the next run starts at: past every rendition's newest segment. */
  nextMsn(): number {
    let next = 0;
    for (const r of this.rungs) {
      const last = r.seg.window.last();
      if (last) next = Math.max(next, last.msn + 1);
    }
    return Math.max(next, this.rungs[0]?.seg.window.config.startMsn ?? 0);
  }

  private reportsFor(rung: Rung): RenditionReport[] {
    const here = posix.dirname(rung.out.playlist);
    const out: RenditionReport[] = [];
    for (const r of this.rungs) {
      if (r === rung) continue;
      const report = r.seg.renditionReport(posix.relative(here, r.out.playlist));
      if (report) out.push(report);
    }
    return out;
  }
}
