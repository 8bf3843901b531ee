/**
 * LL mode of the transcode benchmark (`bun bench/transcode.ts --ll`): the origin's low-latency
 * command (buildFfmpegCommand for builtin-720p with formats ["ll-hls"], partDuration 0.5: one
 * fragmented-MP4 CMAF output per rung and one for the shared audio, `pipe:3` … `pipe:6`) against
 * the hand-written reference ladder of the ordinary benchmark (ffmpeg's dash muxer writing the
 * fMP4 segments with HLS playlists) and against the same ladder written by ffmpeg's hls muxer
 * in fMP4 (`-var_stream_map`), the other thing a person would hand-write.
 *
 * Our outputs go to files: every `pipe:N` is replaced by a file in the run's folder. The mp4
 * muxer does the same work either way (fragments are written front to back, `empty_moov`; it
 * never seeks), and the references write files too, so both sides pay the same kernel sink and
 * no reader process competes for the two cores. `--pipes` instead gives the child real pipes on
 * descriptors 3..6 (Bun.spawn `stdio`) and drains them in this process, as the origin's packager
 * does; the ablation measures that variant against files.
 *
 * Before timing, every output is probed and must be the same ladder (sizes, keyframes at every
 * segment boundary, audio), and our CMAF streams are read with the packager's own reader
 * (origin/src/packager/reader.ts): every fragment about one part long, every segment boundary on
 * a fragment that starts with a keyframe.
 *
 *   flock /tmp/dionysia-bench.lock bun bench/transcode.ts --ll [--quick] [--runs=N] [--write]
 *   --ll --ablate    our LL command with one thing changed at a time, paired against it
 *                    (--only=word,word: just the variants whose names hold one of the words)
 *   --ll --pipes     our command on real pipes drained by the bench instead of files
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { readCmaf } from "../origin/src/packager/reader.ts";
import { buildFfmpegCommand, ffmpegLayout } from "../origin/src/transcoder/ffmpeg/command.ts";
import type { ProfileSpec } from "../shared/src/index.ts";
import {
  ablate,
  busySeconds,
  DOC,
  describeLadder,
  describeRendition,
  handCommand,
  INPUT_SEC,
  makeInput,
  median,
  NOTES,
  oursCommand,
  profile as plainProfile,
  quick,
  RUNS,
  rotate,
  runOne,
  runsArg,
  type Sample,
  SEG,
  sh,
  without,
  work,
  write,
} from "./transcode.ts";

const PART = 0.5;
const pipes = process.argv.includes("--pipes");
export const llProfile: ProfileSpec = { ...plainProfile, formats: ["ll-hls"], partDuration: PART };
const job = (input: string, outDir: string) => ({
  streamId: "bench",
  profile: llProfile,
  inputUrl: input,
  outDir,
  runId: "b",
});
const cmafOutputs = () => ffmpegLayout(job("", "")).cmaf ?? [];

/** Our LL command exactly as the origin builds it (outputs on `pipe:3` …). */
function llPipeCommand(input: string): string[] {
  const c = buildFfmpegCommand(job(input, ""));
  return [c.cmd, ...c.args];
}

/** Where each CMAF output goes in file mode: `<outDir>/<rendition dir>.mp4`. */
const outFile = (outDir: string, dir: string) => join(outDir, `${dir}.mp4`);

/** Our LL command with every `pipe:N` output pointed at a file in `outDir`. */
function toFiles(args: string[], outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const byPipe = new Map(cmafOutputs().map((o) => [`pipe:${o.fd}`, outFile(outDir, o.dir)]));
  return args.map((a) => byPipe.get(a) ?? a);
}

/** The reference ladder written by ffmpeg's hls muxer in fMP4 instead of its dash muxer. */
function handHlsCommand(input: string, outDir: string): string[] {
  const args = handCommand(input, outDir);
  return [
    ...args.slice(0, args.indexOf("-f")),
    "-f",
    "hls",
    "-hls_time",
    String(SEG),
    "-hls_list_size",
    "6",
    "-hls_segment_type",
    "fmp4",
    "-hls_fmp4_init_filename",
    "init.mp4",
    "-hls_segment_filename",
    join(outDir, "%v/seg-%05d.m4s"),
    "-master_pl_name",
    "master.m3u8",
    "-var_stream_map",
    "v:0,agroup:aud v:1,agroup:aud v:2,agroup:aud a:0,agroup:aud",
    join(outDir, "%v/index.m3u8"),
  ];
}

/**
 * The reference with the encoder setting a person writing a low-latency ladder by hand adds
 * (`-tune zerolatency`, as ours has: ADR 0098), so the comparison is like for like.
 */
function handZlCommand(input: string, outDir: string): string[] {
  const args = handCommand(input, outDir);
  const at = args.indexOf("-f");
  return [...args.slice(0, at), "-tune", "zerolatency", ...args.slice(at)];
}

type Kind = "ll" | "hand" | "handzl" | "handhls";
const LABEL: Record<Kind, string> = {
  ll: `ours, LL-HLS (${pipes ? "pipes drained by the bench" : "pipe:N → files"})`,
  hand: "hand-written ffmpeg (dash muxer + HLS playlists, the ordinary benchmark's reference)",
  handzl: "the same hand-written command with `-tune zerolatency`",
  handhls: "hand-written ffmpeg (hls muxer, fMP4)",
};
const KINDS: Kind[] = ["ll", "hand", "handzl", "handhls"];

/** Same measurement as runOne, with real pipes on descriptors 3.. drained here. */
async function runPiped(cmd: string[], n: number): Promise<Sample> {
  const b0 = busySeconds();
  const t0 = performance.now();
  const p = Bun.spawn(cmd, {
    stdio: ["ignore", "ignore", "pipe", ...Array<"pipe">(n).fill("pipe")],
  });
  const drain = async (fd: number) => {
    let bytes = 0;
    for await (const c of Bun.file(fd).stream()) bytes += c.byteLength;
    return bytes;
  };
  const fds = Array.from({ length: n }, (_, i) => p.stdio[3 + i] as unknown as number);
  const [code] = await Promise.all([p.exited, ...fds.map(drain)]);
  const wall = (performance.now() - t0) / 1000;
  const busy = busySeconds() - b0;
  if (code !== 0) throw new Error(`exit ${code}: ${(await new Response(p.stderr).text()).slice(-500)}`);
  const ru = p.resourceUsage();
  const cpu = ru ? Number(ru.cpuTime.user + ru.cpuTime.system) / 1e6 : Number.NaN;
  return { wall, cpu, other: Math.max(0, busy - cpu) };
}

/** Runs our LL command (optionally edited) to files, or to drained pipes. */
function runLl(input: string, outDir: string, edit = (a: string[]) => a, piped = pipes) {
  const args = edit(llPipeCommand(input));
  return piped ? runPiped(args, cmafOutputs().length) : runOne(toFiles(args, outDir));
}

function runKind(k: Kind, input: string, outDir: string): Promise<Sample> {
  if (k === "ll") return runLl(input, outDir);
  const make = { hand: handCommand, handzl: handZlCommand, handhls: handHlsCommand }[k];
  return runOne(make(input, outDir));
}

/**
 * Reads one CMAF file with the packager's reader: fragment durations, and (video) whether every
 * segment boundary falls on a fragment that starts with a keyframe. Throws when a fragment is more than
 * one sample away from the part duration (the last one of the stream may be shorter) or a
 * segment boundary lands inside a fragment or on one without a keyframe.
 */
async function checkParts(file: string, video: boolean): Promise<{ n: number; min: number; max: number }> {
  const bytes = new Uint8Array(readFileSync(file));
  async function* once() {
    yield bytes;
  }
  const frags: { t: number; d: number; independent: boolean }[] = [];
  for await (const item of readCmaf(once())) {
    if (item.kind === "fragment")
      frags.push({ t: item.decodeTime, d: item.duration, independent: item.independent });
  }
  if (frags.length < 2) throw new Error(`${file}: ${frags.length} fragments`);
  const t0 = frags[0]!.t;
  const tol = 0.05; // > one video frame (1/30 s) and one AAC frame (1024/48000 s)
  frags.forEach((f, i) => {
    if (i < frags.length - 1 && Math.abs(f.d - PART) > tol)
      throw new Error(`${file}: fragment ${i} lasts ${f.d.toFixed(3)} s, part is ${PART} s`);
    if (f.d > PART + tol) throw new Error(`${file}: fragment ${i} lasts ${f.d.toFixed(3)} s`);
  });
  // Audio fragments (24 AAC frames, 0.512 s) need not meet the video's segment boundaries.
  for (let b = 0; video && b < (frags.at(-1)!.t - t0) / SEG; b++) {
    const at = frags.find((f) => Math.abs(f.t - t0 - b * SEG) < 0.01);
    if (!at) throw new Error(`${file}: no fragment starts at the segment boundary ${b * SEG} s`);
    if (!at.independent) throw new Error(`${file}: the fragment at ${b * SEG} s starts without a keyframe`);
  }
  const ds = frags.slice(0, -1).map((f) => f.d);
  return { n: frags.length, min: Math.min(...ds), max: Math.max(...ds) };
}

/** Our LL ladder as describeLadder writes it, plus the fragment summary per output. */
async function describeLl(outDir: string): Promise<{ ladder: string; parts: string }> {
  const ladder: string[] = [];
  const parts: string[] = [];
  for (const o of cmafOutputs()) {
    const f = outFile(outDir, o.dir);
    if (!existsSync(f)) throw new Error(`${f}: not written`);
    ladder.push(describeRendition(f));
    const p = await checkParts(f, o.kind === "video");
    parts.push(`${o.dir} ${p.n} fragments ${p.min.toFixed(3)}–${p.max.toFixed(3)} s`);
  }
  return { ladder: ladder.sort().join("; "), parts: parts.join(", ") };
}

/** Our LL command with one thing changed: which part of it costs what. */
const insertBeforeEach = (a: string[], flag: string, extra: string[]) =>
  a.flatMap((x) => (x === flag ? [...extra, x] : [x]));
const LL_ABLATIONS: Record<
  string,
  { edit?: (a: string[]) => string[]; piped?: boolean; other?: (input: string, out: string) => string[] }
> = {
  "our ordinary HLS+DASH command instead (one dash output)": { other: oursCommand },
  "pipes drained by the bench instead of files": { piped: true },
  "no -frag_duration (one fragment per 2 s GOP)": { edit: (a) => without(a, "-frag_duration") },
  "-frag_duration 1 s": {
    edit: (a) => a.map((x, i) => (a[i - 1] === "-frag_duration" ? "1000000" : x)),
  },
  "no cmaf movflag": { edit: (a) => a.map((x) => x.replace("+cmaf", "")) },
  "no -max_muxing_queue_size": { edit: (a) => without(a, "-max_muxing_queue_size") },
  "x264 -threads 2 per encoder": {
    edit: (a) => insertBeforeEach(a, "-max_muxing_queue_size", ["-threads:v:0", "2"]),
  },
};

async function runLlAblations(input: string): Promise<string> {
  const rows: string[] = [];
  // --only=a,b: just the variants whose names contain one of these words.
  const only = process.argv
    .find((x) => x.startsWith("--only="))
    ?.slice(7)
    .split(",");
  const chosen = Object.entries(LL_ABLATIONS).filter(([n]) => !only || only.some((w) => n.includes(w)));
  for (const [name, v] of chosen) {
    const cpu: number[] = [];
    const wall: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const got: Record<string, Sample> = {};
      for (const which of i % 2 ? ["variant", "ours"] : ["ours", "variant"]) {
        const out = join(work, `lla-${which}-${i}`);
        got[which] =
          which === "ours"
            ? await runLl(input, out, undefined, false)
            : v.other
              ? await runOne(v.other(input, out))
              : await runLl(input, out, v.edit, !!v.piped);
        rmSync(out, { recursive: true, force: true });
      }
      cpu.push(got.variant!.cpu / got.ours!.cpu);
      wall.push(got.variant!.wall / got.ours!.wall);
    }
    rows.push(
      `| ${name} | ${median(cpu).toFixed(3)} (${Math.min(...cpu).toFixed(3)}–${Math.max(...cpu).toFixed(3)}) | ${median(wall).toFixed(3)} |`,
    );
    console.log(rows.at(-1));
  }
  return [
    `| our LL command (files) with... | CPU variant/ours (median of ${RUNS} pairs, range) | wall variant/ours |`,
    "| --- | --- | --- |",
    ...rows,
  ].join("\n");
}

const SECTION = "## LL-HLS (CMAF chunks)";

/** Puts `section` (starting with SECTION) into the notes part of DOC, replacing an older one. */
function writeSection(section: string) {
  const doc = readFileSync(DOC, "utf8");
  const at = doc.indexOf(SECTION);
  let out: string;
  if (at >= 0) {
    const next = doc.indexOf("\n## ", at + SECTION.length);
    out = `${doc.slice(0, at)}${section.trimEnd()}\n${next >= 0 ? doc.slice(next) : ""}`;
  } else {
    const m = doc.indexOf(NOTES);
    if (m < 0) throw new Error(`${DOC}: no notes marker`);
    const after = m + NOTES.length;
    out = `${doc.slice(0, after)}\n\n${section.trimEnd()}\n${doc.slice(after).replace(/^\n+/, "\n")}`;
  }
  writeFileSync(DOC, out);
  console.log(`wrote the "${SECTION.slice(3)}" section of ${DOC}`);
}

export async function mainLl() {
  const ffv = sh(["ffmpeg", "-version"]).split("\n")[0]?.split(" ")[2];
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}; ffmpeg ${ffv}`);
  console.log(
    `input: ${INPUT_SEC}s 1280x720@30 testsrc2 + sine; ladder: builtin-720p, formats ["ll-hls"], ${SEG} s segments, ${PART} s parts`,
  );
  const input = makeInput(INPUT_SEC);

  // Same ladder from every command, and our chunks cut as the packager needs them.
  const ladders = {} as Record<Kind, string>;
  let parts = "";
  for (const k of KINDS) {
    const out = join(work, `llverify-${k}`);
    await runKind(k, input, out);
    if (k === "ll") {
      if (pipes) await runLl(input, out, undefined, false); // the pipe run leaves nothing to probe
      const d = await describeLl(out);
      ladders.ll = d.ladder;
      parts = d.parts;
    } else ladders[k] = describeLadder(out);
    rmSync(out, { recursive: true, force: true });
  }
  for (const k of KINDS) {
    if (ladders[k] !== ladders.hand)
      throw new Error(`ladders differ:\n hand: ${ladders.hand}\n ${k}: ${ladders[k]}`);
  }
  console.log(`same ladder: ${ladders.ll}\nour CMAF fragments: ${parts}`);

  if (ablate) {
    console.log(`\n${await runLlAblations(input)}`);
    rmSync(work, { recursive: true, force: true });
    return;
  }

  const rounds: Record<Kind, Sample>[] = [];
  for (let i = 0; i < RUNS; i++) {
    const got = {} as Record<Kind, Sample>;
    for (const k of rotate(KINDS, i)) {
      const out = join(work, `llr-${k}-${i}`);
      got[k] = await runKind(k, input, out);
      rmSync(out, { recursive: true, force: true });
    }
    rounds.push(got);
    console.log(
      `round ${i + 1}: ${KINDS.map((k) => `${k} ${got[k].cpu.toFixed(2)} CPU-s ${got[k].wall.toFixed(2)} s`).join(", ")}`,
    );
  }
  const med = (k: Kind, f: (s: Sample) => number) => median(rounds.map((r) => f(r[k])));
  const table = [
    "| command | median wall (s) | median CPU user+sys (s) | CPU-s per media-s | other load during runs (cores, median) |",
    "| --- | --- | --- | --- | --- |",
    ...KINDS.map((k) => {
      const cpu = med(k, (s) => s.cpu);
      return `| ${LABEL[k]} | ${med(k, (s) => s.wall).toFixed(2)} | ${cpu.toFixed(2)} | ${(cpu / INPUT_SEC).toFixed(2)} | ${med(k, (s) => s.other / s.wall).toFixed(2)} |`;
    }),
  ].join("\n");
  const comparisons: [Kind, Kind][] = [
    ["ll", "handzl"],
    ["ll", "hand"],
    ["ll", "handhls"],
  ];
  const pairTable = [
    `| round | ${comparisons.map(([a, b]) => `CPU ${a}/${b} | wall ${a}/${b}`).join(" | ")} | other load (cores) ${KINDS.join(" / ")} |`,
    `| --- | ${comparisons.map(() => "--- | ---").join(" | ")} | --- |`,
    ...rounds.map(
      (r, i) =>
        `| ${i + 1} | ${comparisons.map(([a, b]) => `${(r[a].cpu / r[b].cpu).toFixed(3)} | ${(r[a].wall / r[b].wall).toFixed(3)}`).join(" | ")} | ${KINDS.map((k) => (r[k].other / r[k].wall).toFixed(2)).join(" / ")} |`,
    ),
  ].join("\n");
  const ratios = comparisons
    .map(([a, b]) => {
      const cpu = rounds.map((r) => r[a].cpu / r[b].cpu);
      const wall = rounds.map((r) => r[a].wall / r[b].wall);
      return `CPU ${a}/${b} = ${median(cpu).toFixed(3)}x (${Math.min(...cpu).toFixed(3)}–${Math.max(...cpu).toFixed(3)}), wall ${a}/${b} = ${median(wall).toFixed(3)}x (${Math.min(...wall).toFixed(3)}–${Math.max(...wall).toFixed(3)})`;
    })
    .join("; ");
  console.log(`\n${table}\n\n${pairTable}\n\n${ratios} (medians of ${RUNS} rounds, range; target <= 1.05x)`);

  if (write) {
    const cmdLine = `flock /tmp/dionysia-bench.lock bun bench/transcode.ts --ll${quick ? " --quick" : ""}${runsArg ? ` ${runsArg}` : ""}${pipes ? " --pipes" : ""} --write`;
    const short = (a: string[], out: string) =>
      a.join(" ").replaceAll(out, "OUT").replaceAll(input, "IN.mp4");
    const o = join(work, "doc");
    const section = `${SECTION}

Produced by \`${cmdLine}\` on ${new Date().toISOString().slice(0, 10)}
(${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, ffmpeg ${ffv}; other load measured as above).

Our command is \`buildFfmpegCommand\` for \`builtin-720p\` with \`"formats": ["ll-hls"]\` and
\`"partDuration": ${PART}\`: one decode and one filter graph, then one output per rung (its x264
encoder, then the mp4 muxer making CMAF fragments of one part) and one for the audio, written in
production to \`pipe:3\` … \`pipe:6\` for the origin's packager. ${
      pipes
        ? "Here the child got real pipes on\ndescriptors 3..6 (Bun.spawn `stdio`) and the bench drained them."
        : "Here each `pipe:N` is pointed at a\nfile in the run's folder instead: the same mp4-muxer work (it writes front to back and never\nseeks, `empty_moov`), the same kernel sink the references use, and no reader process competing\nfor the two cores. Real pipes drained by the bench cost the child no measurable CPU (ablation\nbelow)."
    }
The references are the ordinary benchmark's hand-written command (dash muxer, HLS playlists
from the same fMP4 segments), that command with \`-tune zerolatency\` (what our LL command asks of
x264, ADR 0098, so that row is like for like) and the same ladder from ffmpeg's hls muxer in
fMP4; none can write LL-HLS parts (ffmpeg's hls muxer has no \`EXT-X-PART\`), so they make the
same ladder in whole segments.

Input: ${INPUT_SEC} s of 1280x720@30 \`testsrc2\` + sine. Before timing, every output is probed and
must be the same ladder: \`${ladders.ll}\`; our CMAF streams, read with the packager's reader:
${parts} (last fragment of each stream left out; every ${SEG} s boundary starts a fragment with a
keyframe).

${RUNS} rounds, each running the four commands back to back (order rotating); CPU = user + sys of
the child (rusage); ratios are medians of the per-round ratios (range in brackets).

${table}

${pairTable}

**${ratios}.**

Our LL command (paths shortened; \`pipe:N\` as the origin runs it):

\`\`\`
${short(llPipeCommand("IN.mp4"), o)}
\`\`\`

Hand-written, hls muxer:

\`\`\`
${short(handHlsCommand("IN.mp4", o), o)}
\`\`\`
`;
    writeSection(section);
  }
  rmSync(work, { recursive: true, force: true });
}

if (import.meta.main) await mainLl();
