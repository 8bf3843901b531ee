/**
 * Transcode benchmark: the origin's ffmpeg command (buildFfmpegCommand) against one hand-written
 * ffmpeg command producing the same 720/480/360 ladder (HLS+DASH, 2 s segments) from the same
 * 720p30 input on this machine, and, when gpac is on PATH (`gpac -h bin` answers), the gpac back
 * end's command (buildGpacCommand) on the same ladder; `--no-gpac` leaves it out. Runs go in back-to-back pairs (order alternating); we report
 * medians and the median of the per-pair ratios, which cancels slow drifts in what else the
 * machine is doing. Every run also records the CPU other processes used meanwhile (/proc/stat busy
 * minus our child's rusage), so a noisy machine shows in the report instead of in the verdict.
 * Before timing, both outputs are checked to be the same ladder (sizes, keyframes every segment).
 * Then: how many concurrent streams hold real time (speed >= 1.0), ours and hand-written at each N
 * one right after the other.
 *
 *   flock /tmp/dionysia-bench.lock bun bench/transcode.ts            full run (~3 min on 2 cores)
 *   flock /tmp/dionysia-bench.lock bun bench/transcode.ts --quick    under a minute
 *   --write     also writes docs/benchmarks/transcode.md (text after its NOTES marker is kept)
 *   --ablate    instead: our command with one flag group removed at a time, paired against ours
 *   --thumbnail instead: our command with its live thumbnail branch (the default) against the same
 *               command with thumbnails off, paired runs, median CPU and wall ratios (ADR 0093)
 *   --runs=N    rounds of paired runs (default 5, 2 with --quick)
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildFfmpegCommand,
  type FfmpegCommandOptions,
  ffmpegLayout,
} from "../origin/src/transcoder/ffmpeg/command.ts";
import { GpacBackend } from "../origin/src/transcoder/gpac/index.ts";
import { THUMBNAIL_FILE } from "../origin/src/transcoder/thumbnail.ts";
import { BUILTIN_PROFILES } from "../shared/src/profile/builtin.ts";

export const quick = process.argv.includes("--quick");
export const write = process.argv.includes("--write");
export const DOC = "docs/benchmarks/transcode.md";
export const NOTES = "<!-- notes: kept by --write -->";
export const ablate = process.argv.includes("--ablate");
export const thumbnailMode = process.argv.includes("--thumbnail");
// Ablation runs 8 variants: short input and 3 pairs each keep it under ~3 minutes.
export const INPUT_SEC = quick || ablate ? 6 : 12;
export const runsArg = process.argv.find((a) => a.startsWith("--runs="));
export const RUNS = runsArg ? Number(runsArg.slice(7)) : quick ? 2 : ablate ? 3 : 5;
const MAX_CONCURRENCY = quick ? 2 : 4;
const CONC_SEC = quick ? 6 : 12;
export const profile = BUILTIN_PROFILES["builtin-720p"]!;
export const SEG = profile.segmentDuration;
export const work = mkdtempSync(join(tmpdir(), "bench-transcode-"));

export function sh(args: string[]): string {
  const r = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${args[0]} failed: ${r.stderr.toString().slice(-500)}`);
  return r.stdout.toString();
}

export function makeInput(sec: number): string {
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

export function oursCommand(input: string, outDir: string, o: FfmpegCommandOptions = {}): string[] {
  const job = { streamId: "bench", profile, inputUrl: input, outDir, runId: "b" };
  for (const d of ffmpegLayout(job, o).dirs) mkdirSync(join(outDir, d), { recursive: true });
  const c = buildFfmpegCommand(job, o);
  return [c.cmd, ...c.args];
}

/**
 * What an engineer would write by hand for the same ladder and packaging: same sizes, bitrates,
 * VBV, GOP, keyframes forced on segment boundaries (what makes a live ladder switchable when the
 * input's timing wobbles), same DASH window, HLS playlists from the same fMP4 segments.
 */
export function handCommand(input: string, outDir: string): string[] {
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
    String(SEG * 30),
    "-keyint_min",
    String(SEG * 30),
    "-sc_threshold",
    "0",
    "-force_key_frames",
    `expr:gte(t,n_forced*${SEG})`,
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
    String(SEG),
    "-window_size",
    "6",
    "-extra_window_size",
    "2",
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

/** Removes `flag value` pairs whose flag starts with `prefix`. */
export function without(args: string[], prefix: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i]!.startsWith(prefix)) i++;
    else out.push(args[i]!);
  }
  return out;
}

export function editGraph(args: string[], edit: (g: string) => string): string[] {
  const i = args.indexOf("-filter_complex");
  return args.map((a, j) => (j === i + 1 ? edit(a) : a));
}

/** Our command with one thing changed: does any of our extra flags cost anything? */
const ABLATIONS: Record<string, (args: string[]) => string[]> = {
  "no fps filter": (a) => editGraph(a, (g) => g.replace(/fps=\d+,/, "")),
  "no format=yuv420p": (a) => editGraph(a, (g) => g.replaceAll(",format=yuv420p", "")),
  "no -force_key_frames": (a) => without(a, "-force_key_frames"),
  "no -progress/-stats_period": (a) => without(without(a, "-progress"), "-stats_period"),
  "no -profile/-level": (a) => without(without(a, "-profile"), "-level"),
  "no -fflags +genpts": (a) => without(a, "-fflags"),
  "x264 -threads 1": (a) => {
    const i = a.indexOf("-max_muxing_queue_size");
    return [...a.slice(0, i), "-threads:v", "1", ...a.slice(i)];
  },
  "x264 -threads 2": (a) => {
    const i = a.indexOf("-max_muxing_queue_size");
    return [...a.slice(0, i), "-threads:v", "2", ...a.slice(i)];
  },
};

async function runAblations(input: string): Promise<string> {
  const rows: string[] = [];
  for (const [name, edit] of Object.entries(ABLATIONS)) {
    const cpu: number[] = [];
    const wall: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const got: Record<string, Sample> = {};
      for (const v of i % 2 ? ["variant", "ours"] : ["ours", "variant"]) {
        const out = join(work, `a-${v}-${i}`);
        const cmd = oursCommand(input, out);
        got[v] = await runOne(v === "ours" ? cmd : edit(cmd));
        rmSync(out, { recursive: true, force: true });
      }
      cpu.push(got.variant!.cpu / got.ours!.cpu);
      wall.push(got.variant!.wall / got.ours!.wall);
    }
    rows.push(`| ${name} | ${median(cpu).toFixed(3)} | ${median(wall).toFixed(3)} |`);
    console.log(rows.at(-1));
  }
  return [
    `| our command with... | CPU variant/ours (median of ${RUNS} pairs) | wall variant/ours |`,
    "| --- | --- | --- |",
    ...rows,
  ].join("\n");
}

/**
 * What the live thumbnail costs (ADR 0093): our command as it runs (a JPEG every 5 s from one more
 * branch of the split) against the same command with `thumbnail: false`, back to back, order
 * alternating; the "on" output must hold the thumbnail.
 */
async function runThumbnailPairs(input: string): Promise<string> {
  const cpu: number[] = [];
  const wall: number[] = [];
  const abs: Record<"on" | "off", number[]> = { on: [], off: [] };
  const rows: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    const got = {} as Record<"on" | "off", Sample>;
    for (const v of i % 2 ? (["off", "on"] as const) : (["on", "off"] as const)) {
      const out = join(work, `t-${v}-${i}`);
      got[v] = await runOne(oursCommand(input, out, v === "on" ? {} : { thumbnail: false }));
      const has = existsSync(join(out, THUMBNAIL_FILE));
      if (has !== (v === "on"))
        throw new Error(`thumbnail ${v}: ${THUMBNAIL_FILE} ${has ? "written" : "missing"}`);
      rmSync(out, { recursive: true, force: true });
      abs[v].push(got[v].cpu);
    }
    cpu.push(got.on.cpu / got.off.cpu);
    wall.push(got.on.wall / got.off.wall);
    rows.push(
      `| ${i + 1} | ${got.on.cpu.toFixed(2)} | ${got.off.cpu.toFixed(2)} | ${cpu.at(-1)!.toFixed(3)} | ${wall.at(-1)!.toFixed(3)} | ${(got.on.other / got.on.wall).toFixed(2)} / ${(got.off.other / got.off.wall).toFixed(2)} |`,
    );
    console.log(rows.at(-1));
  }
  return [
    "| round | CPU on (s) | CPU off (s) | CPU on/off | wall on/off | other load on / off (cores) |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
    `thumbnail on/off: CPU ${median(cpu).toFixed(3)}x, wall ${median(wall).toFixed(3)}x (medians of ${RUNS} pairs); median CPU-s per media-s ${(median(abs.on) / INPUT_SEC).toFixed(3)} on, ${(median(abs.off) / INPUT_SEC).toFixed(3)} off`,
  ].join("\n");
}

type Kind = "ours" | "hand" | "gpac";
const LABEL: Record<Kind, string> = {
  ours: "ours (ffmpeg back end)",
  hand: "hand-written ffmpeg",
  gpac: "gpac back end",
};
const gpacBackend = new GpacBackend();
const gpacInfo = await gpacBackend.detect();
const KINDS: Kind[] =
  gpacInfo.ok && !process.argv.includes("--no-gpac") ? ["ours", "hand", "gpac"] : ["ours", "hand"];

/** The gpac back end's command for the same job (buildGpacCommand), layout folders created. */
function gpacCommand(input: string, outDir: string): string[] {
  const job = { streamId: "bench", profile, inputUrl: input, outDir, runId: "b" };
  for (const d of gpacBackend.layout(job).dirs) mkdirSync(join(outDir, d), { recursive: true });
  const c = gpacBackend.buildCommand(job);
  return [c.cmd, ...c.args];
}

const build = (k: Kind, input: string, out: string) =>
  k === "ours" ? oursCommand(input, out) : k === "hand" ? handCommand(input, out) : gpacCommand(input, out);

/** The HLS media playlist each kind writes first, to check the output exists. */
const firstPlaylist: Record<Kind, string> = {
  ours: "media_0.m3u8",
  hand: "media_0.m3u8",
  gpac: gpacBackend.layout({ streamId: "bench", profile, inputUrl: "", outDir: "" }).variants[0]!.playlist,
};

/** Rotates the order each round so no kind always runs first (or right after another). */
export const rotate = <T>(xs: T[], i: number) => xs.map((_, j) => xs[(i + j) % xs.length]!);

/**
 * One rendition as a comparable string: `audio <codec>`, or `<codec> <w>x<h> keyframes <t,...>`
 * (keyframe times from the first one, probed). Throws when a keyframe is off a segment boundary.
 */
export function describeRendition(file: string, label = file): string {
  const info = JSON.parse(
    sh([
      "ffprobe",
      "-v",
      "error",
      "-show_entries",
      "stream=codec_name,width,height:packet=pts_time,flags",
      "-of",
      "json",
      file,
    ]),
  ) as {
    streams: { codec_name: string; width?: number; height?: number }[];
    packets: { pts_time: string; flags: string }[];
  };
  const s = info.streams[0]!;
  if (!s.width) return `audio ${s.codec_name}`;
  const keys = info.packets.filter((p) => p.flags.startsWith("K")).map((p) => Number(p.pts_time));
  const t0 = keys[0] ?? 0;
  const off = keys.filter((t) => Math.abs((t - t0) / SEG - Math.round((t - t0) / SEG)) > 0.01);
  if (off.length) throw new Error(`${label}: keyframes off segment boundaries at ${off.join(", ")}`);
  return `${s.codec_name} ${s.width}x${s.height} keyframes ${keys.map((t) => (t - t0).toFixed(2)).join(",")}`;
}

/**
 * The ladder an output folder holds, as a comparable string: per video representation its size
 * and keyframe times (init + every segment, probed), plus the audio representation's codec.
 * Throws when a representation has a keyframe off a segment boundary.
 */
export function describeLadder(outDir: string): string {
  const reps = readdirSync(outDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  const parts: string[] = [];
  for (const rep of reps) {
    const dir = join(outDir, rep);
    const files = readdirSync(dir).sort();
    const init = files.find((f) => f.startsWith("init"));
    if (!init) throw new Error(`${dir}: no init segment`);
    const joined = join(work, `probe-${rep}.mp4`);
    writeFileSync(
      joined,
      Buffer.concat(
        [init, ...files.filter((f) => f.endsWith(".m4s"))].map((f) => readFileSync(join(dir, f))),
      ),
    );
    parts.push(describeRendition(joined, dir));
  }
  // Folder names differ between back ends (0/1/2 against 720p/480p/360p): compare as a set.
  return parts.sort().join("; ");
}

export interface Sample {
  wall: number;
  cpu: number;
  /** CPU seconds the rest of the machine used during this run. */
  other: number;
}

const TICK = Number(sh(["getconf", "CLK_TCK"]).trim()) || 100;
/** Busy CPU seconds of the whole machine since boot (all cores, idle and iowait excluded). */
export function busySeconds(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - f[3]! - f[4]!) / TICK;
}

export async function runOne(cmd: string[]): Promise<Sample> {
  const b0 = busySeconds();
  const t0 = performance.now();
  const p = Bun.spawn(cmd, { stdout: "ignore", stderr: "pipe" });
  const code = await p.exited;
  const wall = (performance.now() - t0) / 1000;
  const busy = busySeconds() - b0;
  if (code !== 0) throw new Error(`exit ${code}: ${(await new Response(p.stderr).text()).slice(-500)}`);
  const ru = p.resourceUsage();
  const cpu = ru ? Number(ru.cpuTime.user + ru.cpuTime.system) / 1e6 : Number.NaN;
  return { wall, cpu, other: Math.max(0, busy - cpu) };
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface ConcResult {
  slowest: number;
  /** Cores' worth of CPU other processes used meanwhile. */
  otherCores: number;
}

async function concurrent(kind: Kind, input: string, n: number, sec: number): Promise<ConcResult> {
  const b0 = busySeconds();
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
  const wall = (performance.now() - t0) / 1000;
  const ours = procs.reduce((a, p) => {
    const ru = p.resourceUsage();
    return a + (ru ? Number(ru.cpuTime.user + ru.cpuTime.system) / 1e6 : 0);
  }, 0);
  for (let i = 0; i < n; i++) rmSync(join(work, `c-${kind}-${n}-${i}`), { recursive: true, force: true });
  return { slowest: Math.min(...speeds), otherCores: Math.max(0, busySeconds() - b0 - ours) / wall };
}

async function main() {
  const ffv = sh(["ffmpeg", "-version"]).split("\n")[0]?.split(" ")[2];
  const gpv = gpacInfo.ok ? gpacInfo.version : undefined;
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}; ffmpeg ${ffv}; gpac ${gpv ?? `absent (${gpacInfo.ok ? "" : gpacInfo.reason})`}`,
  );
  console.log(
    `input: ${INPUT_SEC}s 1280x720@30 testsrc2 + sine; ladder: builtin-720p (720/480/360, HLS+DASH, ${SEG} s)`,
  );
  const input = makeInput(INPUT_SEC);
  if (thumbnailMode) {
    console.log(`\n${await runThumbnailPairs(input)}`);
    rmSync(work, { recursive: true, force: true });
    return;
  }
  if (ablate) {
    console.log(`\n${await runAblations(input)}`);
    rmSync(work, { recursive: true, force: true });
    return;
  }

  // Same ladder from every command, or the comparison means nothing.
  const ladders = {} as Record<Kind, string>;
  for (const k of KINDS) {
    const out = join(work, `verify-${k}`);
    await runOne(build(k, input, out));
    if (!existsSync(join(out, "manifest.mpd")) || !existsSync(join(out, firstPlaylist[k]))) {
      throw new Error(`${k}: no DASH manifest or HLS media playlist`);
    }
    ladders[k] = describeLadder(out);
    rmSync(out, { recursive: true, force: true });
  }
  for (const k of KINDS) {
    if (ladders[k] !== ladders.ours)
      throw new Error(`ladders differ:\n ours: ${ladders.ours}\n ${k}: ${ladders[k]}`);
  }
  console.log(`same ladder: ${ladders.ours}`);

  const samples = Object.fromEntries(KINDS.map((k) => [k, [] as Sample[]])) as Record<Kind, Sample[]>;
  const rounds: Record<Kind, Sample>[] = [];
  for (let i = 0; i < RUNS; i++) {
    const got = {} as Record<Kind, Sample>;
    for (const k of rotate(KINDS, i)) {
      const out = join(work, `r-${k}-${i}`);
      got[k] = await runOne(build(k, input, out));
      samples[k].push(got[k]);
      rmSync(out, { recursive: true, force: true });
    }
    rounds.push(got);
  }
  const row = (k: Kind) => ({
    wall: median(samples[k].map((s) => s.wall)),
    cpu: median(samples[k].map((s) => s.cpu)),
    other: median(samples[k].map((s) => s.other / s.wall)),
  });
  /** Median over rounds of a/b, for CPU and wall: pairs run back to back cancel slow drifts. */
  const ratio = (a: Kind, b: Kind) => ({
    cpu: median(rounds.map((r) => r[a].cpu / r[b].cpu)),
    wall: median(rounds.map((r) => r[a].wall / r[b].wall)),
  });
  const comparisons: [Kind, Kind][] = [
    ["ours", "hand"],
    ...(KINDS.includes("gpac")
      ? ([
          ["gpac", "ours"],
          ["gpac", "hand"],
        ] as [Kind, Kind][])
      : []),
  ];

  const concInput = CONC_SEC === INPUT_SEC ? input : makeInput(CONC_SEC);
  const held = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  const failed = Object.fromEntries(KINDS.map((k) => [k, false])) as Record<Kind, boolean>;
  const concRows: string[] = [];
  for (let n = 1; n <= MAX_CONCURRENCY && !KINDS.every((k) => failed[k]); n++) {
    const got = {} as Record<Kind, ConcResult>;
    for (const k of rotate(KINDS, n)) {
      got[k] = await concurrent(k, concInput, n, CONC_SEC);
      if (got[k].slowest < 1.0) failed[k] = true;
      else if (!failed[k]) held[k] = n;
    }
    concRows.push(
      `| ${n} | ${KINDS.map((k) => `${got[k].slowest.toFixed(2)}x`).join(" | ")} | ${KINDS.map((k) => got[k].otherCores.toFixed(2)).join(" / ")} |`,
    );
  }

  const table = [
    "| command | median wall (s) | median CPU user+sys (s) | CPU-s per media-s | speed (x real time) | other load during runs (cores, median) |",
    "| --- | --- | --- | --- | --- | --- |",
    ...KINDS.map((k) => {
      const r = row(k);
      return `| ${LABEL[k]} | ${r.wall.toFixed(2)} | ${r.cpu.toFixed(2)} | ${(r.cpu / INPUT_SEC).toFixed(2)} | ${(INPUT_SEC / r.wall).toFixed(2)} | ${r.other.toFixed(2)} |`;
    }),
  ].join("\n");
  const pairTable = [
    `| round | ${comparisons.map(([a, b]) => `CPU ${a}/${b}`).join(" | ")} | other load (cores) ${KINDS.join(" / ")} |`,
    `| --- | ${comparisons.map(() => "---").join(" | ")} | --- |`,
    ...rounds.map(
      (r, i) =>
        `| ${i + 1} | ${comparisons.map(([a, b]) => (r[a].cpu / r[b].cpu).toFixed(3)).join(" | ")} | ${KINDS.map((k) => (r[k].other / r[k].wall).toFixed(2)).join(" / ")} |`,
    ),
  ].join("\n");
  const ratios = comparisons
    .map(([a, b]) => {
      const q = ratio(a, b);
      return `CPU ${a}/${b} = ${q.cpu.toFixed(3)}x, wall ${a}/${b} = ${q.wall.toFixed(3)}x`;
    })
    .join("; ");
  const conc = [
    `| streams | ${KINDS.map((k) => `${k}: slowest speed`).join(" | ")} | other load (cores) ${KINDS.join(" / ")} |`,
    `| --- | ${KINDS.map(() => "---").join(" | ")} | --- |`,
    ...concRows,
  ].join("\n");
  const heldLine = KINDS.map((k) => `${k} ${held[k]}`).join(", ");
  console.log(
    `\n${table}\n\n${pairTable}\n\n${ratios} (medians of ${RUNS} rounds; target ours/hand <= 1.05x)\n\n${conc}\n\nconcurrent 720p -> 720/480/360 at >= 1.0x: ${heldLine} (searched 1..${MAX_CONCURRENCY})`,
  );

  if (write) {
    const commands = KINDS.map((k) => {
      const out = join(work, `doc-${k}`);
      return `${LABEL[k]}:\n\n\`\`\`\n${build(k, "IN.mp4", out).join(" ").replaceAll(out, "OUT")}\n\`\`\``;
    }).join("\n\n");
    const doc = `# Transcode benchmark

Produced by \`flock /tmp/dionysia-bench.lock bun bench/transcode.ts${quick ? " --quick" : ""}${runsArg ? ` ${runsArg}` : ""} --write\` on ${new Date().toISOString().slice(0, 10)}
(${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, ffmpeg ${ffv}${gpv ? `, gpac ${gpv} built from source` : ", gpac absent"}; other work on the
machine not controlled, but measured: "other load" is the CPU the rest of the machine used during
each run, in cores).

Input: ${INPUT_SEC} s of 1280x720@30 \`testsrc2\` + sine (x264 ultrafast + AAC, file), read as fast as
possible. Ladder: \`builtin-720p\` (720p 2800k / 480p 1400k / 360p 800k, x264 veryfast, AAC 128k once,
${SEG} s segments, HLS + DASH from the same fMP4 segments). Before timing, every output is probed and
must match: \`${ladders.ours}\`.

${RUNS} rounds, each running every command once back to back (order rotating); CPU = user + sys of
the child (rusage); ratios are the median of the per-round ratios.

${table}

${pairTable}

**${ratios}.**

## Concurrent streams at real time

N copies of the same command at once on a ${CONC_SEC} s input, every command at each N one right
after the other; a stream holds real time when its speed (input seconds / its wall time) is at
least 1.0; the search stops once all fail (bounded at ${MAX_CONCURRENCY}).

${conc}

Held at >= 1.0x: **${heldLine}**.

## Commands

Input and output paths shortened.

${commands}
`;
    const old = existsSync(DOC) ? readFileSync(DOC, "utf8") : "";
    const notes = old.includes(NOTES) ? old.slice(old.indexOf(NOTES)) : `${NOTES}\n`;
    mkdirSync("docs/benchmarks", { recursive: true });
    writeFileSync(DOC, `${doc}\n${notes}`);
    console.log("wrote docs/benchmarks/transcode.md");
  }
  rmSync(work, { recursive: true, force: true });
}

if (import.meta.main) {
  if (process.argv.includes("--ll")) {
    // Not awaited: transcode-ll.ts imports this module, which must finish evaluating first.
    import("./transcode-ll.ts")
      .then((m) => m.mainLl())
      .catch((e: unknown) => {
        console.error(e);
        process.exit(1);
      });
  } else await main();
}
