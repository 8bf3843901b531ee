/**
 * Segment serving benchmark: the origin's HTTP server (createOriginHttp, in a process of its own)
 * against nginx serving the same files from the same directory, on this machine, in one run.
 * The files are a real HLS ladder (fMP4) written by ffmpeg into a temp data dir. wrk, bounded in
 * time, 127.0.0.1 only: a media playlist (small) and a ~200 KB segment; order rotated every run,
 * median of the runs.
 *
 *   bun bench/serve.ts [--runs 3] [--seconds 4] [--connections 32] [--threads 1]
 *
 * nginx runs twice: with one worker (the origin is one Bun process: like for like) and with
 * `worker_processes auto` (what a default nginx install does). `bun-bare` (Bun.serve + Bun.file and
 * nothing else) is a reference that shows what the runtime costs apart from the origin's handler.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort, waitFor } from "../shared/src/testkit/index.ts";
import { type Nginx, startNginx } from "./lib/nginx.ts";
import { median } from "./lib/stats.ts";
import { runWrk, type WrkResult } from "./router/wrk.ts";

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    seconds: { type: "string", default: "4" },
    connections: { type: "string", default: "32" },
    threads: { type: "string", default: "1" },
  },
});
const RUNS = Number(args.runs);
const SECONDS = Number(args.seconds);
const CONNECTIONS = Number(args.connections);
const THREADS = Number(args.threads);
const STREAM = "bench0stream";

const RENDITIONS = [
  { name: "360p", size: "640x360", kbps: 800 },
  { name: "180p", size: "320x180", kbps: 300 },
];

/** An HLS ladder as the origin lays it out: live/{id}/{rendition}/index.m3u8 + init + segments. */
function writeLadder(dataDir: string): void {
  const out = join(dataDir, "live", STREAM);
  for (const r of RENDITIONS) {
    const dir = join(out, r.name);
    mkdirSync(dir, { recursive: true });
    const res = spawnSync(
      "ffmpeg",
      [
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        `testsrc2=size=${r.size}:rate=30`,
        "-t",
        "12",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-b:v",
        `${r.kbps}k`,
        "-maxrate",
        `${r.kbps}k`,
        "-bufsize",
        `${r.kbps}k`,
        "-g",
        "60",
        "-keyint_min",
        "60",
        "-sc_threshold",
        "0",
        "-f",
        "hls",
        "-hls_time",
        "2",
        "-hls_list_size",
        "6",
        "-hls_segment_type",
        "fmp4",
        "-hls_fmp4_init_filename",
        "init-r1.mp4",
        "-hls_segment_filename",
        join(dir, "seg-r1-%05d.m4s"),
        join(dir, "index.m3u8"),
      ],
      { encoding: "utf8" },
    );
    if (res.status !== 0) throw new Error(`ffmpeg failed: ${res.stderr}`);
  }
  const bw = (k: number) => k * 1000 + 64_000;
  writeFileSync(
    join(out, "master.m3u8"),
    [
      "#EXTM3U",
      "#EXT-X-VERSION:7",
      "#EXT-X-INDEPENDENT-SEGMENTS",
      ...RENDITIONS.flatMap((r) => [
        `#EXT-X-STREAM-INF:BANDWIDTH=${bw(r.kbps)},RESOLUTION=${r.size},CODECS="avc1.42c01e"`,
        `${r.name}/index.m3u8`,
      ]),
      "",
    ].join("\n"),
  );
}

/** The segment of the top rendition closest to 200 KB. */
function pickSegment(dataDir: string): { path: string; bytes: number } {
  const dir = join(dataDir, "live", STREAM, RENDITIONS[0]!.name);
  const segs = readdirSync(dir)
    .filter((n) => n.endsWith(".m4s"))
    .map((n) => ({
      path: `/live/${STREAM}/${RENDITIONS[0]!.name}/${n}`,
      bytes: statSync(join(dir, n)).size,
    }));
  segs.sort((a, b) => Math.abs(a.bytes - 200_000) - Math.abs(b.bytes - 200_000));
  if (!segs[0]) throw new Error("ffmpeg wrote no segments");
  return segs[0];
}

async function startBun(
  script: string,
  dataDir: string,
  port: number,
): Promise<{ url: string; stop(): Promise<void> }> {
  const child: ChildProcess = spawn("bun", [join(import.meta.dir, "lib", script)], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Both servers must answer 200 with the file's exact length before anything is measured. */
async function check(url: string, bytes: number): Promise<void> {
  const res = await fetch(url);
  const body = await res.arrayBuffer();
  if (res.status !== 200 || body.byteLength !== bytes)
    throw new Error(`${url}: status ${res.status}, ${body.byteLength} bytes, expected 200 and ${bytes}`);
}

const SERVERS = ["origin", "nginx-1w", "nginx-auto", "bun-bare"] as const;
type Server = (typeof SERVERS)[number];

async function main() {
  if (spawnSync("sh", ["-c", "command -v wrk"]).status !== 0)
    throw new Error("wrk is not installed: apt-get install -y wrk");
  const dataDir = mkdtempSync(join(tmpdir(), "dionysia-bench-serve-"));
  // nginx workers run as an unprivileged user: they must be able to enter the (0700) temp dir.
  chmodSync(dataDir, 0o755);
  const servers: { stop(): Promise<void> }[] = [];
  try {
    console.error("· writing an HLS ladder with ffmpeg");
    writeLadder(dataDir);
    const seg = pickSegment(dataDir);
    const playlistPath = `/live/${STREAM}/${RENDITIONS[0]!.name}/index.m3u8`;
    const playlistBytes = statSync(join(dataDir, playlistPath)).size;
    const [p1, p2, p3, p4] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const origin = await startBun("origin-serve.ts", dataDir, p1);
    servers.push(origin);
    const bare = await startBun("bare-file-serve.ts", dataDir, p4);
    servers.push(bare);
    const n1: Nginx = await startNginx({ root: dataDir, port: p2, workers: 1 });
    servers.push(n1);
    const na: Nginx = await startNginx({ root: dataDir, port: p3, workers: "auto" });
    servers.push(na);
    const base: Record<Server, string> = {
      origin: origin.url,
      "nginx-1w": n1.url,
      "nginx-auto": na.url,
      "bun-bare": bare.url,
    };
    for (const s of SERVERS) {
      await waitFor(
        `${s} up`,
        async () => (await fetch(`${base[s]}${playlistPath}`).catch(() => null))?.ok,
        20_000,
      );
      await check(`${base[s]}${playlistPath}`, playlistBytes);
      await check(`${base[s]}${seg.path}`, seg.bytes);
    }
    const kinds = [
      { kind: "playlist", path: playlistPath, bytes: playlistBytes },
      { kind: "segment", path: seg.path, bytes: seg.bytes },
    ] as const;
    const results: Record<string, WrkResult[]> = {};
    const wrk = (url: string, seconds: number) =>
      runWrk({ url, seconds, connections: CONNECTIONS, threads: THREADS });
    for (const k of kinds) for (const s of SERVERS) await wrk(`${base[s]}${k.path}`, 1); // warm-up
    for (let i = 0; i < RUNS; i++) {
      for (const k of kinds) {
        // Rotate the order so drift on a shared machine hits every server equally.
        const order = SERVERS.map((_, j) => SERVERS[(j + i) % SERVERS.length]!);
        for (const s of order) {
          const r = await wrk(`${base[s]}${k.path}`, SECONDS);
          if (r.non2xx3xx || r.errors)
            console.warn(`${s} ${k.kind}: ${r.non2xx3xx} bad responses, ${r.errors} socket errors`);
          const key = `${k.kind}:${s}`;
          results[key] ??= [];
          results[key].push(r);
          console.error(
            `· run ${i + 1} ${k.kind} ${s}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99ms.toFixed(2)} ms`,
          );
        }
      }
    }
    const load = readFileLoad();
    console.log(
      `\nserving benchmark: ${RUNS} runs × ${SECONDS} s, wrk -t${THREADS} -c${CONNECTIONS}, ${spawnSync("nproc").stdout.toString().trim()} CPUs, load average ${load}, median per server\n`,
    );
    console.log(
      "| request | server | req/s | body MB/s | p50 ms | p99 ms | ours / this (req/s) | p99 delta ms |",
    );
    console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    const verdicts: string[] = [];
    for (const k of kinds) {
      const rps = (s: Server) => median(results[`${k.kind}:${s}`]!.map((r) => r.rps));
      const p50 = (s: Server) => median(results[`${k.kind}:${s}`]!.map((r) => r.p50ms));
      const p99 = (s: Server) => median(results[`${k.kind}:${s}`]!.map((r) => r.p99ms));
      for (const s of SERVERS) {
        const ratio = s === "origin" ? "" : `${(rps("origin") / rps(s)).toFixed(2)}×`;
        const delta =
          s === "origin"
            ? ""
            : `${(p99("origin") - p99(s)) >= 0 ? "+" : ""}${(p99("origin") - p99(s)).toFixed(2)}`;
        console.log(
          `| ${k.kind} (${k.bytes} B) | ${s} | ${rps(s).toFixed(0)} | ${((rps(s) * k.bytes) / 1e6).toFixed(1)} | ${p50(s).toFixed(2)} | ${p99(s).toFixed(2)} | ${ratio} | ${delta} |`,
        );
      }
      for (const s of ["nginx-1w", "nginx-auto"] as const) {
        const r = rps("origin") / rps(s);
        verdicts.push(
          `${k.kind}: ours/${s} ${r.toFixed(2)}× ${r >= 0.8 ? "met ✓" : "MISSED ✗"} (target ≥ 0.8×)`,
        );
      }
    }
    console.log(`\n${verdicts.join("\n")}\n`);
  } finally {
    for (const s of servers.reverse()) await s.stop().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function readFileLoad(): string {
  return spawnSync("cat", ["/proc/loadavg"]).stdout.toString().split(" ").slice(0, 3).join(" ");
}

await main();
