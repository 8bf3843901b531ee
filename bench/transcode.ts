/**
 * Transcode benchmark: the origin's ffmpeg command (buildFfmpegCommand) against one hand-written
 * ffmpeg command producing the same 720/480/360 ladder (HLS+DASH, 2 s segments) from the same
 * 720p30 input on this machine, alternating runs, medians; then how many concurrent streams hold
 * real time (speed ≥ 1.0) for each, with a bounded search.
 *
 *   bun bench/transcode.ts            full run (~10 min on 2 cores)
 *   bun bench/transcode.ts --quick    under a minute
 *   --write                           also writes docs/benchmarks/transcode.md
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { buildFfmpegCommand, ffmpegLayout } from "../origin/src/transcoder/ffmpeg/command.ts";
import { BUILTIN_PROFILES } from "../shared/src/profile/builtin.ts";

const quick = process.argv.includes("--quick");
const write = process.argv.includes("--write");
const INPUT_SEC = quick ? 6 : 20;
const RUNS = quick ? 1 : 3;
const MAX_CONCURRENCY = quick ? 2 : 4;
const CONC_SEC = quick ? 6 : 12;
const profile = BUILTIN_PROFILES["builtin-720p"]!;
const work = mkdtempSync(join(tmpdir(), "bench-transcode-"));

function sh(args: string[]): void {
  const r = Bun.spawnSync(args, { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${args[0]} failed: ${r.stderr.toString().slice(-500)}`);
}

function makeInput(sec: number): string {
  const f = join(work, `in-${sec}.mp4`);
  sh([
    "ffmpeg",
    "-v",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=1280x720:rate=30",
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000",
    "-t",
    String(sec),
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-g",
    "60",
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "aac",
    "-b:a",
    "128k",
    f,
  ]);
  return f;
}

function oursCommand(input: string, outDir: string): string[] {
  const job = { streamId: "bench", profile, inputUrl: input, outDir, runId: "b" };
  for (const d of ffmpegLayout(job).dirs) mkdirSync(join(outDir, d), { recursive: true });
  const c = buildFfmpegCommand(job);
  return [c.cmd, ...c.args];
}

/** What an engineer would write by hand for the same ladder and packaging. */
function handCommand(input: string, outDir: string): string[] {
  for (const d of ["0", "1", "2", "3"]) mkdirSync(join(outDir, d), { recursive: true });
  return [
    "ffmpeg",
    "-hide_banner",
    "-loglevel",
    "warning",
    "-nostdin",
    "-y",
    "-i",
    input,
    "-filter_complex",
    "[0:v]split=3[a][b][c];[a]scale=1280:720[v0];[b]scale=854:480[v1];[c]scale=640:360[v2]",
    "-map",
    "[v0]",
    "-map",
    "[v1]",
    "-map",
    "[v2]",
    "-map",
    "0:a",
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-pix_fmt",
    "yuv420p",
    "-g",
    "60",
    "-keyint_min",
    "60",
    "-sc_threshold",
    "0",
    "-b:v:0",
    "2800k",
    "-maxrate:v:0",
    "3080k",
    "-bufsize:v:0",
    "5600k",
    "-b:v:1",
    "1400k",
    "-maxrate:v:1",
    "1540k",
    "-bufsize:v:1",
    "2800k",
    "-b:v:2",
    "800k",
    "-maxrate:v:2",
    "880k",
    "-bufsize:v:2",
    "1600k",
    "-c:a",
    "aac",
    "-b:a",
    "128k",
    "-ac",
    "2",
    "-ar",
    "48000",
    "-f",
    "dash",
    "-seg_duration",
    "2",
    "-window_size",
    "6",
    "-hls_playlist",
    "1",
    "-init_seg_name",
    "$RepresentationID$/init.mp4",
    "-media_seg_name",
    "$RepresentationID$/seg-$Number%05d$.m4s",
    "-adaptation_sets",
    "id=0,streams=v id=1,streams=a",
    join(outDir, "manifest.mpd"),
  ];
}

interface Sample {
  wall: number;
  cpu: number;
}

async function runOne(cmd: string[]): Promise<Sample> {
  const t0 = performance.now();
  const p = Bun.spawn(cmd, { stdout: "ignore", stderr: "pipe" });
  const code = await p.exited;
  const wall = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`exit ${code}: ${(await new Response(p.stderr).text()).slice(-500)}`);
  const ru = p.resourceUsage();
  const cpu = ru ? Number(ru.cpuTime.user + ru.cpuTime.system) / 1e6 : Number.NaN;
  return { wall, cpu };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

type Kind = "ours" | "hand";
const build = (k: Kind, input: string, out: string) =>
  k === "ours" ? oursCommand(input, out) : handCommand(input, out);

async function concurrent(kind: Kind, input: string, n: number, sec: number): Promise<number> {
  const t0 = performance.now();
  const procs = Array.from({ length: n }, (_, i) => {
    const out = join(work, `c-${kind}-${n}-${i}`);
    return Bun.spawn(build(kind, input, out), { stdout: "ignore", stderr: "ignore" });
  });
  // Each process finishes on its own: its speed is input seconds / its own wall time.
  const speeds = await Promise.all(
    procs.map(async (p) => {
      await p.exited;
      return sec / ((performance.now() - t0) / 1000);
    }),
  );
  return Math.min(...speeds);
}

async function main() {
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}; ffmpeg ${Bun.spawnSync(["ffmpeg", "-version"]).stdout.toString().split("\n")[0]?.split(" ")[2]}`,
  );
  console.log(
    `input: ${INPUT_SEC}s 1280x720@30 testsrc2 + sine; ladder: builtin-720p (720/480/360, HLS+DASH, 2 s)`,
  );
  const input = makeInput(INPUT_SEC);
  const samples: Record<Kind, Sample[]> = { ours: [], hand: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const k of (i % 2 ? ["hand", "ours"] : ["ours", "hand"]) as Kind[]) {
      const out = join(work, `r-${k}-${i}`);
      samples[k].push(await runOne(build(k, input, out)));
      rmSync(out, { recursive: true, force: true });
    }
  }
  const row = (k: Kind) => ({
    wall: median(samples[k].map((s) => s.wall)),
    cpu: median(samples[k].map((s) => s.cpu)),
  });
  const ours = row("ours");
  const hand = row("hand");
  const cpuRatio = ours.cpu / hand.cpu;
  const wallRatio = ours.wall / hand.wall;

  const concInput = CONC_SEC === INPUT_SEC ? input : makeInput(CONC_SEC);
  const held: Record<Kind, number> = { ours: 0, hand: 0 };
  const concRows: string[] = [];
  for (const k of ["ours", "hand"] as Kind[]) {
    for (let n = 1; n <= MAX_CONCURRENCY; n++) {
      const speed = await concurrent(k, concInput, n, CONC_SEC);
      concRows.push(`| ${k} | ${n} | ${speed.toFixed(2)}x |`);
      if (speed < 1.0) break;
      held[k] = n;
    }
  }

  const table = [
    "| command | median wall (s) | median CPU user+sys (s) | speed (x real time) |",
    "| --- | --- | --- | --- |",
    `| ours | ${ours.wall.toFixed(2)} | ${ours.cpu.toFixed(2)} | ${(INPUT_SEC / ours.wall).toFixed(2)} |`,
    `| hand-written | ${hand.wall.toFixed(2)} | ${hand.cpu.toFixed(2)} | ${(INPUT_SEC / hand.wall).toFixed(2)} |`,
  ].join("\n");
  const ratios = `CPU ratio ours/hand = ${cpuRatio.toFixed(3)}x, wall ratio = ${wallRatio.toFixed(3)}x (target <= 1.05x)`;
  const conc = [
    "| command | concurrent streams | slowest stream speed |",
    "| --- | --- | --- |",
    ...concRows,
  ].join("\n");
  console.log(
    `\n${table}\n\n${ratios}\n\n${conc}\n\nconcurrent 720p -> 720/480/360 at >= 1.0x: ours ${held.ours}, hand-written ${held.hand} (searched 1..${MAX_CONCURRENCY})`,
  );

  if (write) {
    const doc = `# Transcode benchmark

Produced by \`bun bench/transcode.ts${quick ? " --quick" : ""} --write\` on ${new Date().toISOString().slice(0, 10)}
(${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, other work on the machine not controlled).

Input: ${INPUT_SEC} s of 1280x720@30 \`testsrc2\` + sine (x264 ultrafast + AAC, file), read as fast as
possible. Ladder: \`builtin-720p\` (720p 2800k / 480p 1400k / 360p 800k, x264 veryfast, AAC 128k once,
2 s segments, HLS + DASH from the same fMP4 segments). ${RUNS} run(s) each, alternating, medians.
CPU = user + sys of the ffmpeg child (rusage).

${table}

**${ratios}.**

## Concurrent streams at real time

N copies of the same command at once on a ${CONC_SEC} s input; a stream holds real time when its
speed (input seconds / its wall time) is at least 1.0; search stops at the first N that fails
(bounded at ${MAX_CONCURRENCY}).

${conc}

Held at >= 1.0x: **ours ${held.ours}, hand-written ${held.hand}**.

## Commands

Ours (from \`buildFfmpegCommand\`, input and output paths shortened):

\`\`\`
${oursCommand("IN.mp4", join(work, "doc-ours")).join(" ").replaceAll(join(work, "doc-ours"), "OUT")}
\`\`\`

Hand-written:

\`\`\`
${handCommand("IN.mp4", join(work, "doc-hand")).join(" ").replaceAll(join(work, "doc-hand"), "OUT")}
\`\`\`

Differences: ours adds \`fps=30\` before the split (the profile's frame rate), \`format=yuv420p\` per
branch, \`-force_key_frames\` on segment boundaries, explicit \`-profile\`/\`-level\` (so the master's
CODECS are known before encoding), \`-progress pipe:1\`, and a run id in segment names.
`;
    mkdirSync("docs/benchmarks", { recursive: true });
    writeFileSync("docs/benchmarks/transcode.md", doc);
    console.log("wrote docs/benchmarks/transcode.md");
  }
  rmSync(work, { recursive: true, force: true });
}

await main();
