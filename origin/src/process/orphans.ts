/**
 * Children a killed origin left behind (ADR 0036): processes reparented to pid 1 or to a subreaper
 * that is not Bun, whose command line says they worked for this origin. Linux /proc only; elsewhere
 * (or unreadable) none. A live origin's children (parent `bun`) are never matched.
 */
import { readdir, readFile } from "node:fs/promises";
import type { Logger } from "@dionysia/shared";

export async function orphanPids(matches: (argv: string[]) => boolean): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const argv = (await readFile(`/proc/${e}/cmdline`, "utf8")).split("\0");
      if (!matches(argv)) continue;
      const stat = await readFile(`/proc/${e}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const parent = ppid > 1 ? (await readFile(`/proc/${ppid}/comm`, "utf8").catch(() => "")).trim() : "";
      if (ppid <= 1 || parent !== "bun") found.push(Number(e));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/**
 * An ffmpeg/gpac of this origin: it writes under this node's live root (transcoders) or talks to
 * this node's RTMP port on loopback (SRT listeners, pulls, relays publish there).
 */
export function workedForThisOrigin(argv: string[], o: { liveRoot: string; rtmpPort: number }): boolean {
  const bin = argv[0] ?? "";
  if (!/(^|\/)(ffmpeg|gpac)$/.test(bin)) return false;
  const rtmp = `rtmp://127.0.0.1:${o.rtmpPort}/`;
  const root = o.liveRoot.endsWith("/") ? o.liveRoot : `${o.liveRoot}/`;
  return argv.some((a) => a.startsWith(rtmp) || a.startsWith(root) || a.includes(`=${root}`));
}

/** Start-up sweep: SIGKILL every orphan of a previous run of this origin; returns how many. */
export async function sweepOrphans(o: {
  liveRoot: string;
  rtmpPort: number;
  logger: Logger;
}): Promise<number> {
  const pids = await orphanPids((argv) => workedForThisOrigin(argv, o));
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  if (pids.length) o.logger.warn({ pids }, "killed child processes left behind by a previous origin run");
  return pids.length;
}
