/** Medians and formatting shared by the latency and serving benchmarks. */

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export const ms = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? "—" : `${Math.round(n)}`);
export const sec = (n: number | undefined) =>
  n === undefined || Number.isNaN(n) ? "—" : `${(n / 1000).toFixed(2)} s`;

/** The p-th percentile (0–100) by nearest rank; NaN for no samples. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}
