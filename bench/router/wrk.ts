/** Runs wrk (bounded in time, 127.0.0.1 only) and parses requests/s and the latency percentiles. */
import { spawn } from "node:child_process";

export interface WrkResult {
  rps: number;
  requests: number;
  p50ms: number;
  p99ms: number;
  non2xx3xx: number;
  errors: number;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  if (unit === "us") return n / 1000;
  if (unit === "s") return n * 1000;
  return n;
}

export function parseWrk(out: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = /(\d+) requests in/.exec(out);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out);
  if (!rps || !p50 || !p99) throw new Error(`cannot parse wrk output:\n${out}`);
  const non = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(rps[1]),
    requests: total ? Number(total[1]) : 0,
    p50ms: toMs(p50[1]!, p50[2]!),
    p99ms: toMs(p99[1]!, p99[2]!),
    non2xx3xx: non ? Number(non[1]) : 0,
    errors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

export interface WrkOptions {
  url: string;
  seconds: number;
  connections: number;
  threads: number;
  headers?: Record<string, string>;
  /** CPU list for `taskset -c` (keeps the load generator off the server's core). */
  cpus?: string;
}

export function runWrk(o: WrkOptions): Promise<WrkResult> {
  const u = new URL(o.url);
  if (u.hostname !== "127.0.0.1") throw new Error("the load generator only targets 127.0.0.1");
  const args = [
    `-t${o.threads}`,
    `-c${o.connections}`,
    `-d${o.seconds}s`,
    "--timeout",
    "2s",
    "--latency",
    ...Object.entries(o.headers ?? {}).flatMap(([k, val]) => ["-H", `${k}: ${val}`]),
    o.url,
  ];
  return new Promise((resolve, reject) => {
    const [cmd, argv] = o.cpus ? ["taskset", ["-c", o.cpus, "wrk", ...args]] : ["wrk", args];
    const child = spawn(cmd as string, argv as string[], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += String(d)));
    child.stderr.on("data", (d) => (out += String(d)));
    // wrk stops itself after -d; this is a backstop so the benchmark can never hang.
    const killer = setTimeout(() => child.kill("SIGKILL"), (o.seconds + 10) * 1000);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(killer);
      if (code !== 0) return reject(new Error(`wrk exited ${code}:\n${out}`));
      try {
        resolve(parseWrk(out));
      } catch (err) {
        reject(err);
      }
    });
  });
}
