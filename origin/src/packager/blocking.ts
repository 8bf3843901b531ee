/**
 * Blocking playlist reload (RFC 8216bis 6.2.5.2): whether a request with `_HLS_msn`,
 * `_HLS_part` and `_HLS_skip` is answered now, held until a part exists, or refused. The
 * decision is pure; `waitForPart` is the one async helper, on any source that can say whether a
 * part exists and when something new was written.
 */
import type { LastPart } from "./window.ts";

export interface ReloadQuery {
  msn?: number;
  part?: number;
  /** `_HLS_skip=YES` (or `v2`: we have no date ranges to drop, so it means the same). */
  skip: boolean;
}

export type ReloadDecision =
  | { kind: "now"; skip: boolean }
  | { kind: "hold"; msn: number; part?: number; skip: boolean }
  | { kind: "bad"; reason: string };

export interface ReloadState {
  /** The newest part written; undefined before the first. */
  last?: LastPart;
  partTarget: number;
  segmentDuration: number;
  /** The MSN the first segment gets (default 0). */
  startMsn?: number;
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

/** Reads the three query values; a value that is not a decimal integer is a 400. */
export function parseReloadQuery(
  get: (name: string) => string | null | undefined,
): ReloadQuery | { bad: string } {
  const rawMsn = get("_HLS_msn");
  const rawPart = get("_HLS_part");
  const rawSkip = get("_HLS_skip");
  const q: ReloadQuery = { skip: false };
  if (rawMsn !== null && rawMsn !== undefined) {
    if (!DECIMAL.test(rawMsn)) return { bad: "_HLS_msn must be a decimal integer" };
    q.msn = Number(rawMsn);
  }
  if (rawPart !== null && rawPart !== undefined) {
    if (!DECIMAL.test(rawPart)) return { bad: "_HLS_part must be a decimal integer" };
    if (q.msn === undefined) return { bad: "_HLS_part without _HLS_msn" };
    q.part = Number(rawPart);
  }
  if (rawSkip !== null && rawSkip !== undefined) {
    if (rawSkip !== "YES" && rawSkip !== "v2") return { bad: "_HLS_skip must be YES or v2" };
    q.skip = true;
  }
  return q;
}

/**
 * The Advance Part Limit: how many parts past the newest one a request may ask for
 * (3 / PART-TARGET below one second, 3 otherwise).
 */
export function advancePartLimit(partTarget: number): number {
  return partTarget < 1 ? 3 / partTarget : 3;
}

export function decideReload(q: ReloadQuery, s: ReloadState): ReloadDecision {
  if (q.msn === undefined) return { kind: "now", skip: q.skip };
  const startMsn = s.startMsn ?? 0;
  // Before the first part: as if a complete segment startMsn - 1 had just been written.
  const last = s.last ?? { msn: startMsn - 1, part: 0, complete: true };
  if (q.msn > last.msn + 2) return { kind: "bad", reason: "_HLS_msn is more than two segments ahead" };
  if (q.part !== undefined) {
    const perSegment = Math.max(1, Math.round(s.segmentDuration / s.partTarget));
    if (partsAhead(last, q.msn, q.part, perSegment) > advancePartLimit(s.partTarget))
      return { kind: "bad", reason: "_HLS_part is beyond the advance part limit" };
  }
  if (satisfied(last, q.msn, q.part, s.last !== undefined)) return { kind: "now", skip: q.skip };
  return { kind: "hold", msn: q.msn, part: q.part, skip: q.skip };
}

/** How far (msn, part) lies past the newest part, in parts. */
function partsAhead(last: LastPart, msn: number, part: number, perSegment: number): number {
  if (msn < last.msn) return 0;
  if (msn === last.msn) return part - last.part;
  const restOfLast = last.complete ? 0 : Math.max(0, perSegment - 1 - last.part);
  return restOfLast + (msn - last.msn - 1) * perSegment + part + 1;
}

function satisfied(last: LastPart, msn: number, part: number | undefined, any: boolean): boolean {
  if (!any) return false;
  if (msn < last.msn) return true;
  if (msn > last.msn) return false;
  return part === undefined ? last.complete : part <= last.part;
}

/**
 * How long to hold a blocking request before giving up (the caller answers 503): RFC 8216bis
 * 6.2.5.2 lets a client treat a server that takes longer than three target durations as broken.
 */
export function holdLimitMs(targetDuration: number): number {
  return 3 * targetDuration * 1000;
}

/** What a held request needs: whether a part exists, and a call on every write. */
export interface PartSource {
  has(msn: number, part?: number): boolean;
  /** `listener` runs after each new part (and at the end of the stream); returns unsubscribe. */
  subscribe(listener: () => void): () => void;
  /** True once the stream has ended (nothing more will come). */
  readonly isEnded?: boolean;
}

/**
 * Resolves true as soon as the part exists, false after `timeoutMs`, at the end of the stream,
 * or when `signal` aborts (the client went away).
 */
export function waitForPart(
  src: PartSource,
  msn: number,
  part: number | undefined,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  if (src.has(msn, part)) return Promise.resolve(true);
  if (src.isEnded || signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      unsubscribe();
      signal?.removeEventListener("abort", onAbort);
      resolve(ok);
    };
    const onAbort = () => finish(false);
    const timer = setTimeout(() => finish(false), timeoutMs);
    const unsubscribe = src.subscribe(() => {
      if (src.has(msn, part)) finish(true);
      else if (src.isEnded) finish(false);
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
