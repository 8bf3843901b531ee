/** CPU seconds of a process tree from /proc (utime + stime of each live process, 100 Hz ticks). */
import { readdirSync, readFileSync } from "node:fs";

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  ticks: number;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const f = stat.slice(close + 2).split(" ");
    // After "pid (comm) ": state ppid … utime is field 14, stime 15 (1-based over the whole line).
    return { pid, ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** The process `root` and all its descendants alive now. */
export function tree(root: number): Proc[] {
  const all = readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map((d) => readProc(Number(d)))
    .filter((p): p is Proc => p !== undefined);
  const kids = new Map<number, Proc[]>();
  for (const p of all) kids.set(p.ppid, [...(kids.get(p.ppid) ?? []), p]);
  const self = all.find((p) => p.pid === root);
  const out: Proc[] = self ? [self] : [];
  for (let i = 0; i < out.length; i++) out.push(...(kids.get((out[i] as Proc).pid) ?? []));
  return out;
}

/** CPU ticks per pid of the tree, split into ffmpeg and the rest. */
export function cpuSnapshot(root: number): Map<number, { ffmpeg: boolean; ticks: number }> {
  return new Map(tree(root).map((p) => [p.pid, { ffmpeg: p.comm === "ffmpeg", ticks: p.ticks }]));
}

/** CPU seconds spent between two snapshots (a process new in `b` counts from its start). */
export function cpuBetween(
  a: ReturnType<typeof cpuSnapshot>,
  b: ReturnType<typeof cpuSnapshot>,
): { ffmpeg: number; rest: number } {
  let ffmpeg = 0;
  let rest = 0;
  for (const [pid, p] of b) {
    const d = (p.ticks - (a.get(pid)?.ticks ?? 0)) / 100;
    if (p.ffmpeg) ffmpeg += d;
    else rest += d;
  }
  return { ffmpeg, rest };
}

/**
 * CPU of a process tree over a window, sampled every second so that a process that exits in the
 * window (a restarted transcoder) still counts up to its last sample. `ffmpegPids`: how many
 * distinct ffmpeg processes were seen (1 when the transcoder ran throughout).
 */
export function watchCpu(root: number): () => { ffmpeg: number; rest: number; ffmpegPids: number } {
  const first = cpuSnapshot(root);
  const last = new Map(first);
  const sample = () => {
    for (const [pid, p] of cpuSnapshot(root)) last.set(pid, p);
  };
  const timer = setInterval(sample, 1000);
  return () => {
    clearInterval(timer);
    sample();
    const d = cpuBetween(first, last);
    return { ...d, ffmpegPids: [...last.values()].filter((p) => p.ffmpeg).length };
  };
}
