/**
 * Parser for ffmpeg's `-progress pipe:1` output: blocks of key=value lines, each ending with
 * `progress=continue` (or `end`). Pure and incremental: feed chunks, get one stats object per block.
 */
import type { TranscoderStats } from "./types.ts";

export class ProgressParser {
  private buf = "";
  private cur: Record<string, string> = {};

  /** Feeds a chunk; returns the stats of every block it completed. */
  push(chunk: string): TranscoderStats[] {
    this.buf += chunk;
    const out: TranscoderStats[] = [];
    let nl = this.buf.indexOf("\n");
    while (nl >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      nl = this.buf.indexOf("\n");
      const eq = line.indexOf("=");
      if (eq <= 0) continue;
      const key = line.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim();
      this.cur[key] = value;
      if (key === "progress") {
        out.push(progressBlockToStats(this.cur));
        this.cur = {};
      }
    }
    // A runaway line without newline is not progress output: do not let it grow without bound.
    if (this.buf.length > 64 * 1024) this.buf = "";
    return out;
  }
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v === "N/A") return undefined;
  const n = Number.parseFloat(v);
  return Number.isFinite(n) ? n : undefined;
}

export function progressBlockToStats(b: Record<string, string>): TranscoderStats {
  const s: TranscoderStats = {};
  const frames = num(b.frame);
  if (frames !== undefined) s.frames = frames;
  const fps = num(b.fps);
  if (fps !== undefined) s.fps = fps;
  // "1.02x"
  const speed = num(b.speed?.replace(/x$/, ""));
  if (speed !== undefined) s.speed = speed;
  // "1234.5kbits/s"
  const br = num(b.bitrate?.replace(/kbits\/s$/, ""));
  if (br !== undefined) s.bitrateKbps = br;
  // out_time_us is microseconds; out_time_ms is (despite its name) also microseconds in ffmpeg.
  const us = num(b.out_time_us) ?? num(b.out_time_ms);
  if (us !== undefined && us >= 0) s.outTimeSec = us / 1e6;
  return s;
}
