/**
 * CPU time of a process and the cores this process may use, read from Linux's /proc and cgroup
 * files. Used by the capacity calibration and the supervisor's per-stream usage (ADR 0044): CPU
 * time, unlike wall time, does not shrink when something else runs on the host.
 */
import { readFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";

/** Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel build. */
const CLK_TCK = 100;

/** user + system seconds from the text of /proc/<pid>/stat (all threads); pure. */
export function parseProcStatCpu(text: string): number | undefined {
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ")".
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(" ");
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / CLK_TCK;
}

/** CPU seconds a live process has used so far; undefined when it is gone or not on Linux. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    return parseProcStatCpu(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}

/** Cores granted by a cgroup v2 `cpu.max` ("max 100000" or "150000 100000"); pure. */
export function parseCgroupCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (!quota || quota === "max") return undefined;
  const q = Number(quota);
  const p = Number(period ?? 100000);
  return q > 0 && p > 0 ? q / p : undefined;
}

function cgroupCores(): number | undefined {
  try {
    return parseCgroupCpuMax(readFileSync("/sys/fs/cgroup/cpu.max", "utf8"));
  } catch {
    // cgroup v1, or none.
  }
  try {
    const q = Number(readFileSync("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "utf8"));
    const p = Number(readFileSync("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "utf8"));
    return q > 0 && p > 0 ? q / p : undefined;
  } catch {
    return undefined;
  }
}

let cores: { value: number; at: number } | undefined;

/**
 * Cores this process may run on: the CPU affinity set, capped by a cgroup CPU quota. Read again
 * at most every 10 s (the supervisor asks on every poll).
 */
export function usableCores(now = Date.now()): number {
  if (cores && now - cores.at < 10_000) return cores.value;
  const affinity = typeof availableParallelism === "function" ? availableParallelism() : cpus().length;
  const quota = cgroupCores();
  const value = Math.max(0.1, quota !== undefined ? Math.min(affinity, quota) : affinity);
  cores = { value, at: now };
  return value;
}
