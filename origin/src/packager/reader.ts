/**
 * Reads ffmpeg's CMAF output (`-f mp4 -movflags cmaf+empty_moov+default_base_moof+frag_keyframe
 * -frag_duration <µs>` to a pipe) incrementally: first the init segment (ftyp + moov), then each
 * fragment ([styp] [prft|emsg...] moof mdat) the moment its mdat is complete.
 */
import { BoxSplitter } from "./boxes.ts";
import {
  type FragmentInfo,
  FragmentParseError,
  type InitInfo,
  parseFragment,
  parseInit,
} from "./fragment.ts";

export interface InitSegment extends InitInfo {
  kind: "init";
  /** ftyp + moov exactly as ffmpeg wrote them. */
  bytes: Uint8Array;
}

export interface Fragment extends FragmentInfo {
  kind: "fragment";
  /** Every box of the fragment, styp (when written) through mdat: one CMAF chunk. */
  bytes: Uint8Array;
  /** Wall clock (ms) when its last byte arrived. */
  arrivedAt: number;
}

export type CmafItem = InitSegment | Fragment;

/** Boxes that belong to the fragment that follows them (kept and written before its moof). */
const LEADING = new Set(["styp", "prft", "emsg", "sidx"]);

/** The ffmpeg mp4-muxer arguments that make this stream: one fragment per part, keyframes first. */
export function cmafMuxerArgs(partDurationSeconds: number): string[] {
  return [
    "-f",
    "mp4",
    "-movflags",
    "empty_moov+default_base_moof+frag_keyframe+cmaf",
    "-frag_duration",
    String(Math.round(partDurationSeconds * 1e6)),
  ];
}

export async function* readCmaf(
  source: AsyncIterable<Uint8Array>,
  now: () => number = Date.now,
): AsyncGenerator<CmafItem> {
  const splitter = new BoxSplitter();
  let ftyp: Uint8Array | undefined;
  let init: InitInfo | undefined;
  let lead: Uint8Array[] = [];
  let moof: Uint8Array | undefined;
  for await (const chunk of source) {
    for (const box of splitter.push(chunk)) {
      if (!init) {
        if (box.type === "ftyp") ftyp = box.bytes;
        else if (box.type === "moov") {
          const bytes = ftyp ? join([ftyp, box.bytes]) : box.bytes;
          init = parseInit(bytes);
          yield { kind: "init", bytes, ...init };
        }
        // Anything else before the moov (free, skip) carries nothing a player needs.
        continue;
      }
      if (LEADING.has(box.type)) lead.push(box.bytes);
      else if (box.type === "moof") {
        if (moof) throw new FragmentParseError("moof without its mdat");
        moof = box.bytes;
      } else if (box.type === "mdat") {
        if (!moof) throw new FragmentParseError("mdat without a moof");
        const info = parseFragment(moof, init);
        const bytes = join([...lead, moof, box.bytes]);
        lead = [];
        moof = undefined;
        yield { kind: "fragment", bytes, arrivedAt: now(), ...info };
      }
      // Other top-level boxes (mfra at the end, free, skip) are dropped: no player needs them.
    }
  }
}

function join(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}
