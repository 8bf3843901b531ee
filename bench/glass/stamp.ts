/**
 * The wall-clock stamp of the glass-to-glass bench: the publisher's ffmpeg sets each frame's pts to
 * its own wall clock in ms (`setpts=time(0)/TB` in a 1/1000 time base, once per frame, right after
 * the paced `-re` read), then draws that value mod 2^24 as 24 black/white cells plus an 8-bit check
 * (the sum of its three bytes mod 256) in a band across the top of the frame: 16 columns × 2 rows,
 * each cell 1/16 of the width and 1/15 of the height (80×48 px at 720p, 40×24 at 360p), then puts
 * the pts back to frame numbers. The page draws the band of the displayed frame into a small
 * canvas, samples the middle of each cell and rejects a read whose check fails. Pure functions, no
 * DOM and no Bun: the page bundle imports them as they are.
 */

export const COLS = 16;
export const ROWS = 2;
export const DATA_BITS = 24;
export const CHECK_BITS = 8;
/** Height of the band as a fraction of the frame's height (ROWS cells of 1/15 each). */
export const BAND = ROWS / 15;
export const MOD = 2 ** DATA_BITS;
/** The canvas the page draws the band into: 8×8 px a cell. */
export const CANVAS_W = COLS * 8;
export const CANVAS_H = ROWS * 8;

export function checkByte(v: number): number {
  return ((v & 0xff) + ((v >> 8) & 0xff) + ((v >> 16) & 0xff)) & 0xff;
}

/** The 32 cell values (1 = white) of a value, cell i at column i % 16, row ⌊i / 16⌋. */
export function stampBits(ms: number): number[] {
  const v = ((Math.round(ms) % MOD) + MOD) % MOD;
  const c = checkByte(v);
  const bits: number[] = [];
  for (let b = 0; b < DATA_BITS; b++) bits.push(Math.floor(v / 2 ** b) % 2);
  for (let b = 0; b < CHECK_BITS; b++) bits.push(Math.floor(c / 2 ** b) % 2);
  return bits;
}

/**
 * The ffmpeg filter chain that stamps each frame (video at `rate` fps; pts back to N/rate after).
 * `t` in a timeline `enable` is the frame's pts in seconds: here the wall clock.
 */
export function stampFilter(rate: number): string {
  const v = "mod(round(t*1000),16777216)";
  const c = `mod(mod(${v},256)+mod(floor(${v}/256),256)+floor(${v}/65536),256)`;
  const boxes = [`drawbox=x=0:y=0:w=iw:h=ih*${ROWS}/15:color=black:t=fill`];
  for (let i = 0; i < DATA_BITS + CHECK_BITS; i++) {
    const value = i < DATA_BITS ? v : c;
    const bit = i < DATA_BITS ? i : i - DATA_BITS;
    const col = i % COLS;
    const row = Math.floor(i / COLS);
    boxes.push(
      `drawbox=x=iw*${col}/${COLS}:y=ih*${row}/15:w=iw/${COLS}:h=ih/15:color=white:t=fill:` +
        `enable='gte(mod(floor(${value}/${2 ** bit}),2),1)'`,
    );
  }
  return ["settb=1/1000", "setpts=time(0)/TB", ...boxes, `settb=1/${rate}`, "setpts=N"].join(",");
}

/**
 * Reads a stamp from RGBA pixels of the band drawn at `width`×`height` (the whole band, scaled):
 * the mean luma of the middle half of each cell, white above 128. The 24-bit value, or undefined
 * when the check byte disagrees (a frame mid-transition, a blurred cell).
 */
export function decodeRgba(data: ArrayLike<number>, width: number, height: number): number | undefined {
  const cw = width / COLS;
  const ch = height / ROWS;
  let v = 0;
  let c = 0;
  for (let i = 0; i < DATA_BITS + CHECK_BITS; i++) {
    const x0 = Math.floor((i % COLS) * cw + cw / 4);
    const y0 = Math.floor(Math.floor(i / COLS) * ch + ch / 4);
    const x1 = Math.max(x0 + 1, Math.floor((i % COLS) * cw + (3 * cw) / 4));
    const y1 = Math.max(y0 + 1, Math.floor(Math.floor(i / COLS) * ch + (3 * ch) / 4));
    let sum = 0;
    let n = 0;
    for (let y = y0; y < y1; y++)
      for (let x = x0; x < x1; x++) {
        const p = (y * width + x) * 4;
        sum += 0.299 * (data[p] ?? 0) + 0.587 * (data[p + 1] ?? 0) + 0.114 * (data[p + 2] ?? 0);
        n++;
      }
    const bit = sum / n > 128 ? 1 : 0;
    if (i < DATA_BITS) v += bit * 2 ** i;
    else c += bit * 2 ** (i - DATA_BITS);
  }
  return checkByte(v) === c ? v : undefined;
}

/** The full epoch ms of a 24-bit stamp: the one at or before `nowMs` (plus 1 s of slack). */
export function unwrap(v: number, nowMs: number): number {
  const base = nowMs + 1000 - ((((nowMs + 1000) % MOD) + MOD) % MOD);
  const t = base + v;
  return t > nowMs + 1000 ? t - MOD : t;
}
