/**
 * Splits a byte stream (ffmpeg's fragmented MP4 on a pipe) into complete top-level ISO BMFF
 * boxes. Pure and incremental: feed chunks as they come, get each box the moment its last byte
 * is in. Only the top-level framing is read here (size + type); what is inside a box is the
 * parser's job (fragment.ts, with @svta/cml-iso-bmff, ADR 0080).
 */

export interface TopBox {
  type: string;
  /** The whole box, header included: a copy, safe to keep after later chunks arrive. */
  bytes: Uint8Array;
}

/** A stream that cannot be framed (a size smaller than its header, or "to end of file"). */
export class BoxFramingError extends Error {}

export class BoxSplitter {
  private buf: Uint8Array = new Uint8Array(0);
  private readonly maxBox: number;

  /** `maxBox`: refuse a box larger than this (a corrupt size would otherwise buffer forever). */
  constructor(maxBox = 64 * 1024 * 1024) {
    this.maxBox = maxBox;
  }

  /** Bytes held that do not yet make a complete box. */
  get pending(): number {
    return this.buf.byteLength;
  }

  /** Adds a chunk; returns every box it completed, in stream order. */
  push(chunk: Uint8Array): TopBox[] {
    this.buf = this.buf.byteLength === 0 ? chunk.slice() : concat(this.buf, chunk);
    const out: TopBox[] = [];
    let off = 0;
    for (;;) {
      const size = boxSize(this.buf, off);
      if (size === undefined) break;
      if (size > this.maxBox) throw new BoxFramingError(`box of ${size} bytes exceeds ${this.maxBox}`);
      if (this.buf.byteLength - off < size) break;
      out.push({ type: fourCc(this.buf, off + 4), bytes: this.buf.slice(off, off + size) });
      off += size;
    }
    if (off > 0) this.buf = this.buf.slice(off);
    return out;
  }
}

/** Size of the box at `off`, or undefined while its header is incomplete. */
function boxSize(b: Uint8Array, off: number): number | undefined {
  if (b.byteLength - off < 8) return undefined;
  const view = new DataView(b.buffer, b.byteOffset + off);
  const size32 = view.getUint32(0);
  if (size32 === 0) throw new BoxFramingError("box size 0 (to end of file) cannot be framed on a stream");
  if (size32 === 1) {
    if (b.byteLength - off < 16) return undefined;
    const big = view.getBigUint64(8);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new BoxFramingError("box too large");
    if (big < 16n) throw new BoxFramingError(`box size ${big} smaller than its header`);
    return Number(big);
  }
  if (size32 < 8) throw new BoxFramingError(`box size ${size32} smaller than its header`);
  return size32;
}

function fourCc(b: Uint8Array, off: number): string {
  return String.fromCharCode(b[off]!, b[off + 1]!, b[off + 2]!, b[off + 3]!);
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
