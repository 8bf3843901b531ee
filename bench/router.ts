/**
 * Router benchmark: requests/s and p99 of the router (redirect mode, 1000 streams × 3 origins,
 * geo header on every request) against a bare server of the same runtime that answers a fixed 302.
 * Both run on this machine in one run, under Bun and Deno, alternating, median of several runs.
 *
 *   bun bench/router.ts [--runs 5] [--seconds 5] [--connections 32] [--runtimes bun,deno] [--pin]
 *
 * `--pin`: every server on CPU 0 and wrk on CPU 1 (taskset), the same for every side. Besides
 * requests/s and p99 it reports each server's CPU time per request (from /proc), which a competing
 * process on the machine disturbs much less than throughput. `--router-dir DIR` runs the router entry
 * from another checkout (before/after comparisons).
 *
 * A fourth side, `signed`, is the same router on a signed stream with a valid ES256 playback token
 * (ADR 0060): the token's signature is checked once, then the verifier's cache answers, so the
 * difference to `routerTok` (the public stream, the same token in its query, so the same bytes on
 * the wire) is the per-request cost of verification.
 *
 * Needs `wrk` (apt-get install wrk) and, for Deno, `deno` on PATH. Only 127.0.0.1 is loaded.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { generatePlaybackKeyPair, signPlaybackToken } from "../shared/src/playback/sign.ts";
import type { PlaybackKeys, Route } from "../shared/src/schemas/mqtt.ts";
import { freePort } from "../shared/src/testkit/index.ts";
import { runWrk, type WrkResult } from "./router/wrk.ts";

type Sample = WrkResult & { cpuUsPerReq: number };

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    seconds: { type: "string", default: "5" },
    connections: { type: "string", default: "32" },
    threads: { type: "string", default: "1" },
    runtimes: { type: "string", default: "bun,deno" },
    streams: { type: "string", default: "1000" },
    pin: { type: "boolean", default: false },
    "router-dir": { type: "string" },
  },
});
const RUNS = Number(args.runs);
const SECONDS = Number(args.seconds);
const CONNECTIONS = Number(args.connections);
const THREADS = Number(args.threads);
const STREAMS = Number(args.streams);
const KEY = "rk_bench_0123456789abcdef";
const root = fileURLToPath(new URL("..", import.meta.url));
const routerDir = args["router-dir"] ?? root;
const SERVER_CPU = args.pin ? "0" : undefined;
const WRK_CPU = args.pin ? "1" : undefined;
const TICK = Number(spawnSync("getconf", ["CLK_TCK"]).stdout?.toString().trim() || 100);

/** User + system CPU seconds a process has used so far (Linux /proc). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICK;
  } catch {
    return Number.NaN;
  }
}

function has(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

async function waitHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await fetch(url, { redirect: "manual" }).catch(() => undefined);
    if (res) {
      await res.body?.cancel();
      if (res.status < 500) return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

function routes(): Route[] {
  const places = [
    { nodeId: "par", lat: 48.86, lon: 2.35 },
    { nodeId: "nyc", lat: 40.71, lon: -74.0 },
    { nodeId: "tyo", lat: 35.68, lon: 139.69 },
  ];
  return Array.from({ length: STREAMS * 2 }, (_, i) => ({
    // The second half are the same streams, signed (ADR 0060).
    id: i < STREAMS ? `s${String(i).padStart(4, "0")}` : `s${String(i - STREAMS).padStart(4, "0")}x`,
    policy: i < STREAMS ? ("public" as const) : ("signed" as const),
    origins: places.map((p) => ({
      ...p,
      url: `http://${p.nodeId}.example:8090`,
      region: p.nodeId,
      role: "origin" as const,
    })),
  }));
}

function start(cmd: string, argv: string[], env: Record<string, string>, cwd = root): ChildProcess {
  const [c, a] = SERVER_CPU ? ["taskset", ["-c", SERVER_CPU, cmd, ...argv]] : [cmd, argv];
  return spawn(c as string, a as string[], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(t);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const SIDES = ["bare", "bareGeo", "router", "routerTok", "signed"] as const;
type Side = (typeof SIDES)[number];
type Row = { runtime: string } & Record<Side, Sample[]>;

async function benchRuntime(runtime: "bun" | "deno", controlUrl: string, token: string): Promise<Row> {
  const [barePort, geoPort, routerPort] = [await freePort(), await freePort(), await freePort()];
  const bareArgs =
    runtime === "bun"
      ? ["bench/router/bare.ts"]
      : ["run", "--allow-net", "--allow-env", "bench/router/bare.ts"];
  const routerArgs =
    runtime === "bun"
      ? ["router/src/main.bun.ts"]
      : ["run", "--allow-net", "--allow-env", "--allow-read", "router/src/main.deno.ts"];
  const bare = start(runtime, bareArgs, { BARE_PORT: String(barePort) });
  const bareGeo = start(runtime, bareArgs, { BARE_PORT: String(geoPort), BARE_READ_GEO: "1" });
  const router = start(
    runtime,
    routerArgs,
    {
      ROUTER_HOST: "127.0.0.1",
      ROUTER_PORT: String(routerPort),
      CONTROL_URL: controlUrl,
      DIONYSIA_ROUTER_KEY: KEY,
      LOG_LEVEL: "warn",
    },
    routerDir,
  );
  const procs: Record<Side, ChildProcess> = { bare, bareGeo, router, routerTok: router, signed: router };
  try {
    const path = "/live/s0042/720p/index.m3u8?token=x";
    const bareUrl = `http://127.0.0.1:${barePort}${path}`;
    const routerUrl = `http://127.0.0.1:${routerPort}${path}`;
    const urls: Record<Side, string> = {
      bare: bareUrl,
      bareGeo: `http://127.0.0.1:${geoPort}${path}`,
      router: routerUrl,
      routerTok: `http://127.0.0.1:${routerPort}/live/s0042/720p/index.m3u8?token=${token}`,
      signed: `http://127.0.0.1:${routerPort}/live/s0042x/720p/index.m3u8?token=${token}`,
    };
    await waitHttp(bareUrl);
    await waitHttp(urls.bareGeo);
    await waitHttp(`http://127.0.0.1:${routerPort}/health`);
    // /health is 200 before the first bootstrap: wait for the table itself.
    const loaded = Date.now() + 10_000;
    while (Date.now() < loaded) {
      const r = await fetch(routerUrl, { redirect: "manual" });
      await r.body?.cancel();
      if (r.status === 302) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const probe = await fetch(routerUrl, { redirect: "manual", headers: { "cf-ipcountry": "JP" } });
    if (probe.status !== 302)
      throw new Error(`router answered ${probe.status}, expected 302 (table not loaded?)`);
    // The keys come with the bootstrap; wait until the signed stream answers 302 with the token.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await fetch(urls.signed, { redirect: "manual" });
      await r.body?.cancel();
      if (r.status === 302) break;
      if (Date.now() > deadline) throw new Error(`signed stream answered ${r.status}, expected 302`);
      await new Promise((res) => setTimeout(res, 200));
    }
    const headers = { "CF-IPCountry": "JP" };
    const wrk = (url: string, seconds: number) =>
      runWrk({ url, seconds, connections: CONNECTIONS, threads: THREADS, headers, cpus: WRK_CPU });
    // Warm-up: JIT and connection setup, not measured.
    for (const side of SIDES) await wrk(urls[side], 1);
    const row: Row = { runtime, bare: [], bareGeo: [], router: [], routerTok: [], signed: [] };
    for (let i = 0; i < RUNS; i++) {
      // Rotate the order so drift on a shared machine hits every side equally.
      const order = SIDES.map((_, k) => SIDES[(k + i) % SIDES.length]!);
      for (const side of order) {
        const cpu0 = cpuSeconds(procs[side].pid);
        const w = await wrk(urls[side], SECONDS);
        const r: Sample = { ...w, cpuUsPerReq: ((cpuSeconds(procs[side].pid) - cpu0) * 1e6) / w.requests };
        if (r.non2xx3xx || r.errors)
          console.warn(`${runtime} ${side}: ${r.non2xx3xx} bad responses, ${r.errors} socket errors`);
        row[side].push(r);
        console.error(
          `${runtime} run ${i + 1} ${side}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99ms.toFixed(2)} ms, ${r.cpuUsPerReq.toFixed(2)} µs CPU/req`,
        );
      }
    }
    return row;
  } finally {
    await Promise.all([stop(bare), stop(bareGeo), stop(router)]);
  }
}

async function main() {
  if (!has("wrk")) throw new Error("wrk is not installed: apt-get install -y wrk");
  const wanted = args.runtimes.split(",").map((s) => s.trim()) as ("bun" | "deno")[];
  const runtimes = wanted.filter((r) => {
    if (has(r)) return true;
    console.warn(`skipping ${r}: not on PATH`);
    return false;
  });
  const table = routes();
  const key = { ...(await generatePlaybackKeyPair("ES256")), kid: "bench" };
  const keys: PlaybackKeys = { keys: [{ kid: key.kid, alg: key.alg, jwk: key.publicJwk }], ts: 1 };
  const token = await signPlaybackToken(key, { sub: "s0042x", exp: Math.floor(Date.now() / 1000) + 3600 });
  const control = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) =>
      req.headers.get("authorization") !== `Bearer ${KEY}`
        ? new Response("unauthorized", { status: 401 })
        : new URL(req.url).pathname === "/v1/playback-keys"
          ? Response.json(keys)
          : Response.json({ routes: table }),
  });
  const rows: Row[] = [];
  try {
    for (const rt of runtimes) rows.push(await benchRuntime(rt, `http://127.0.0.1:${control.port}`, token));
  } finally {
    control.stop(true);
  }
  const cpu = spawnSync("nproc").stdout?.toString().trim();
  console.log(
    `\nrouter benchmark: ${RUNS} runs × ${SECONDS} s, wrk -t${THREADS} -c${CONNECTIONS}${args.pin ? " (wrk on CPU 1, servers on CPU 0)" : ""}, ${STREAMS} streams × 3 origins, ${cpu} CPUs, median per side${args["router-dir"] ? `, router from ${routerDir}` : ""}\n`,
  );
  console.log(
    "| runtime | bare 302 req/s | bare+geo-read req/s | router req/s | router / bare | router / bare+geo | bare p99 ms | router p99 ms | p99 delta ms | CPU µs/req bare / geo / router |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  const signedLines: string[] = [];
  for (const r of rows) {
    const rps = (s: Side) => median(r[s].map((x) => x.rps));
    const p99 = (s: Side) => median(r[s].map((x) => x.p99ms));
    const ratio = rps("router") / rps("bare");
    const ratioGeo = rps("router") / rps("bareGeo");
    const delta = p99("router") - p99("bare");
    const cpuUs = (s: Side) => median(r[s].map((x) => x.cpuUsPerReq)).toFixed(2);
    console.log(
      `| ${r.runtime} | ${rps("bare").toFixed(0)} | ${rps("bareGeo").toFixed(0)} | ${rps("router").toFixed(0)} | ${ratio.toFixed(2)}× ${ratio >= 0.8 ? "✓" : "✗"} | ${ratioGeo.toFixed(2)}× | ${p99("bare").toFixed(2)} | ${p99("router").toFixed(2)} | ${delta >= 0 ? "+" : ""}${delta.toFixed(2)} ${delta <= 1 ? "✓" : "✗"} | ${cpuUs("bare")} / ${cpuUs("bareGeo")} / ${cpuUs("router")} |`,
    );
    const sRatio = rps("signed") / rps("routerTok");
    const sDelta = p99("signed") - p99("routerTok");
    signedLines.push(
      `| ${r.runtime} | ${rps("router").toFixed(0)} | ${rps("routerTok").toFixed(0)} | ${rps("signed").toFixed(0)} | ${sRatio.toFixed(2)}× ${sRatio >= 0.9 ? "✓" : "✗"} | ${(rps("signed") / rps("router")).toFixed(2)}× | ${p99("routerTok").toFixed(3)} | ${p99("signed").toFixed(3)} | ${sDelta >= 0 ? "+" : ""}${sDelta.toFixed(3)} ${sDelta <= 0.2 ? "✓" : "✗"} | ${cpuUs("router")} / ${cpuUs("routerTok")} / ${cpuUs("signed")} |`,
    );
  }
  console.log("\nsigned playback (ADR 0060): the same router, a signed stream with a valid token\n");
  console.log(
    "| runtime | public req/s | public+token req/s | signed req/s | signed / public+token | signed / public | public+token p99 ms | signed p99 ms | p99 delta ms | CPU µs/req public / +token / signed |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const l of signedLines) console.log(l);
}

await main();
