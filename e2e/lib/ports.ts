/**
 * Before `up` starts anything: which of its TCP ports are taken, and by which process
 * (`ss -ltnp` from iproute2 when present, else /proc/net/tcp + /proc/<pid>/fd).
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createServer } from "node:net";

/** True when `port` on `host` cannot be bound (someone listens there, on it or on 0.0.0.0). */
export function portInUse(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", (err: NodeJS.ErrnoException) =>
      resolve(err.code === "EADDRINUSE" || err.code === "EACCES"),
    );
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(false)));
  });
}

export interface PortHolder {
  pid: number;
  name: string;
  cmdline: string;
}

/** The process listening on TCP `port`, when it can be found (it may belong to another user). */
export function portHolder(port: number): PortHolder | undefined {
  const pid = pidFromSs(port) ?? pidFromProc(port);
  if (pid === undefined) return undefined;
  return {
    pid,
    name: readProc(pid, "comm").trim() || "?",
    cmdline: readProc(pid, "cmdline").split("\0").join(" ").trim(),
  };
}

/** "control port 8080 is in use by bun (pid 123: bun control/src/main.ts)" */
export function describeHolder(h: PortHolder | undefined): string {
  if (!h) return "another process (run `ss -ltnp` as root to see which)";
  const cmd = h.cmdline.length > 100 ? `${h.cmdline.slice(0, 97)}...` : h.cmdline;
  return `${h.name} (pid ${h.pid}${cmd ? `: ${cmd}` : ""})`;
}

function readProc(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return "";
  }
}

function pidFromSs(port: number): number | undefined {
  try {
    const r = Bun.spawnSync(["ss", "-Hltnp", `sport = :${port}`], { stdout: "pipe", stderr: "ignore" });
    const m = /pid=(\d+)/.exec(r.stdout.toString());
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined; // no iproute2
  }
}

/** Listening sockets on `port` from /proc/net/tcp{,6}, then the process holding one of them. */
function pidFromProc(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      const local = f[1];
      if (!local || f[3] !== "0A") continue; // 0A = LISTEN
      if (Number.parseInt(local.split(":")[1] ?? "", 16) === port && f[9]) inodes.add(f[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${entry}/fd/${fd}`));
        if (m && inodes.has(m[1] as string)) return Number(entry);
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

/** For tests: the holder found through /proc only, as on a machine without iproute2. */
export const portHolderFromProc = (port: number) => pidFromProc(port);
