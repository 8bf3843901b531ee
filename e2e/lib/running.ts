/**
 * The mark a running `./dionysia up` leaves in its data dir (up.json: pid and URLs), so a second
 * `up` can say the platform is already running and where instead of colliding with it.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isAlive } from "../../shared/src/testkit/index.ts";

export interface RunningMark {
  pid: number;
  startedAt: string;
  urls: Record<string, string>;
}

const file = (dataDir: string) => join(dataDir, "up.json");

/** The mark of a live `up` on this data dir, or undefined (a stale mark of a dead one is ignored). */
export function readRunning(dataDir: string): RunningMark | undefined {
  let mark: RunningMark;
  try {
    mark = JSON.parse(readFileSync(file(dataDir), "utf8")) as RunningMark;
  } catch {
    return undefined;
  }
  if (mark.pid === process.pid || !isAlive(mark.pid)) return undefined;
  // A recycled pid belongs to something else: only an `up` counts.
  let cmdline = "";
  try {
    cmdline = readFileSync(`/proc/${mark.pid}/cmdline`, "utf8");
  } catch {
    // no /proc: trust the live pid
    return mark;
  }
  return cmdline.includes("up.ts") ? mark : undefined;
}

export function writeRunning(dataDir: string, urls: Record<string, string>): void {
  const mark: RunningMark = { pid: process.pid, startedAt: new Date().toISOString(), urls };
  writeFileSync(file(dataDir), `${JSON.stringify(mark, null, 2)}\n`);
}

/** Removes the mark if it is ours. */
export function clearRunning(dataDir: string): void {
  try {
    const mark = JSON.parse(readFileSync(file(dataDir), "utf8")) as RunningMark;
    if (mark.pid === process.pid) rmSync(file(dataDir), { force: true });
  } catch {
    // nothing to clear
  }
}
