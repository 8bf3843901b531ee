/**
 * First play as a newcomer sees it: `./dionysia up` on a fresh data folder, then `./dionysia demo`,
 * with a CPU-heavy process beside it, and the time from the demo's start until the master playlist
 * through the router lists its rungs and every rung's playlist and first segment answer.
 *
 *   bun bench/first-play.ts [--runs 5] [--hog 1|0] [--limit 10]
 *
 * The hog is one single-threaded x264 encode (one core of a 2-core machine). Uses ephemeral
 * ports, so it can run beside a developer's own `./dionysia up`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median } from "./lib/stats.ts";

const ROOT = resolve(import.meta.dir, "..");
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? def) : def;
};
const runs = Number(arg("runs", "5"));
const hogOn = arg("hog", "1") !== "0";
const limitS = Number(arg("limit", "10"));

async function freePort(): Promise<number> {
  return await new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await Bun.sleep(100);
  }
}

async function text(url: string): Promise<string | undefined> {
  const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return r.ok ? await r.text() : undefined;
}

/** Every variant listed in the master answers with segments, and its first segment answers. */
async function playable(master: string): Promise<string[] | undefined> {
  const m = await text(master);
  if (!m) return undefined;
  const uris = m.split("\n").filter((l) => l && !l.startsWith("#"));
  const audio = [...m.matchAll(/URI="([^"]+)"/g)].map((x) => x[1] as string);
  const all = [...uris, ...audio];
  if (uris.length === 0) return undefined;
  for (const u of all) {
    const url = new URL(u, master).href;
    const p = await text(url);
    if (!p) return undefined;
    const seg = p.split("\n").find((l) => l && !l.startsWith("#"));
    if (!seg) return undefined;
    const r = await fetch(new URL(seg, url), { signal: AbortSignal.timeout(2000) });
    await r.arrayBuffer();
    if (!r.ok) return undefined;
  }
  return uris;
}

const hog = hogOn
  ? Bun.spawn(
      [
        "ffmpeg",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x720:rate=30",
        "-c:v",
        "libx264",
        "-preset",
        "medium",
        "-threads",
        "1",
        "-f",
        "null",
        "-",
      ],
      { stdout: "ignore", stderr: "ignore" },
    )
  : undefined;

const results: { seconds: number; rungs: number; ok: boolean }[] = [];
try {
  for (let i = 1; i <= runs; i++) {
    const data = mkdtempSync(join(tmpdir(), "dionysia-first-play-"));
    const env = {
      ...process.env,
      DIONYSIA_DATA: data,
      CONTROL_PORT: String(await freePort()),
      ROUTER_PORT: String(await freePort()),
      ORIGIN_PORT: String(await freePort()),
      RTMP_PORT: String(await freePort()),
      MQTT_EMBEDDED_PORT: String(await freePort()),
      DIONYSIA_QUIET: "1",
      LOG_LEVEL: "warn",
    };
    const up = Bun.spawn(["bun", join(ROOT, "e2e/up.ts")], { env, stdout: "pipe", stderr: "inherit" });
    let out = "";
    const reader = (async () => {
      for await (const c of up.stdout as ReadableStream<Uint8Array>) out += new TextDecoder().decode(c);
    })();
    let demo: ReturnType<typeof Bun.spawn> | undefined;
    try {
      await until("the 'is up' banner", async () => out.includes("is up"), 90_000);
      const master = /Watch \(HLS\)\s+(\S+)/.exec(out)?.[1];
      if (!master) throw new Error("no playback URL in the banner");
      const t0 = performance.now();
      demo = Bun.spawn(["bun", join(ROOT, "e2e/demo.ts")], { env, stdout: "ignore", stderr: "ignore" });
      let rungs: string[] | undefined;
      let ok = true;
      try {
        rungs = await until("every rung playable through the router", () => playable(master), 60_000);
      } catch {
        ok = false;
      }
      const seconds = (performance.now() - t0) / 1000;
      results.push({ seconds, rungs: rungs?.length ?? 0, ok });
      console.log(
        `run ${i}: ${ok ? `playable after ${seconds.toFixed(2)} s` : "NOT playable within 60 s"}, ${rungs?.length ?? 0} rungs listed`,
      );
    } finally {
      demo?.kill("SIGINT");
      await demo?.exited;
      up.kill("SIGINT");
      await up.exited;
      await reader.catch(() => {});
      rmSync(data, { recursive: true, force: true });
    }
  }
} finally {
  hog?.kill();
}

const ok = results.filter((r) => r.ok);
const within = ok.filter((r) => r.seconds <= limitS).length;
const times = ok.map((r) => r.seconds);
const summary = times.length
  ? `median ${median(times).toFixed(2)} s, max ${Math.max(...times).toFixed(2)} s`
  : "never playable";
console.log(
  `\nfirst play (hog ${hogOn ? "on one core" : "off"}): ${summary}; ${within}/${runs} playable within ${limitS} s`,
);
process.exit(within === runs ? 0 : 1);
