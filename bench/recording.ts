/**
 * What recording costs the origin (ADR 0095): keeping a served segment by hard link (ours) vs
 * copying it (what a recorder that re-muxes or copies pays at least), per segment, on real
 * segment-sized files in the data dir's file system; and making the asset at the end (VOD
 * playlists for an hour of 1 s segments × 4 playlists). The transcoder is untouched by recording,
 * so its CPU is not measured here (bench/transcode.ts).
 *
 *   flock /tmp/dionysia-bench.lock bun bench/recording.ts [--segments 600] [--size 250000] [--runs 5]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { copyFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Recording } from "../origin/src/recording/recording.ts";
import type { ServedSegment } from "../origin/src/supervisor/served.ts";
import { median } from "./lib/stats.ts";

const { values: args } = parseArgs({
  options: {
    segments: { type: "string", default: "600" },
    size: { type: "string", default: "250000" },
    runs: { type: "string", default: "5" },
    dir: { type: "string" },
  },
});
const N = Number(args.segments);
const SIZE = Number(args.size);
const RUNS = Number(args.runs);
const root = mkdtempSync(join(args.dir ?? tmpdir(), "bench-rec-"));

/** A stream folder with N segments of one run in one rendition, as the transcoder leaves them. */
function streamFolder(name: string): { dir: string; segs: ServedSegment[] } {
  const dir = join(root, name, "live", "s1");
  mkdirSync(join(dir, "run-a", "720p"), { recursive: true });
  const bytes = new Uint8Array(SIZE).fill(7);
  writeFileSync(join(dir, "run-a", "720p", "init.mp4"), new Uint8Array(1200));
  const segs: ServedSegment[] = [];
  for (let i = 0; i < N; i++) {
    writeFileSync(join(dir, "run-a", "720p", `seg-${i}.m4s`), bytes);
    segs.push({
      uri: `../run-a/720p/seg-${i}.m4s`,
      duration: 1,
      map: "../run-a/720p/init.mp4",
      discontinuity: false,
      runId: "a",
    });
  }
  return { dir, segs };
}

const linkUs: number[] = [];
const copyUs: number[] = [];
const finishMs: number[] = [];
for (let run = 0; run < RUNS; run++) {
  // Ours: Recording.add, one call per segment as the served playlist takes it.
  const ours = streamFolder(`ours-${run}`);
  const vod = join(root, `ours-${run}`, "vod");
  mkdirSync(vod, { recursive: true });
  const rec = new Recording(vod, ours.dir, "s1");
  let t = performance.now();
  for (const s of ours.segs) await rec.add("720p/index.m3u8", [s]);
  linkUs.push(((performance.now() - t) * 1000) / N);
  // The reference: a copy of every segment into the recording folder.
  const ref = streamFolder(`copy-${run}`);
  const out = join(root, `copy-${run}`, "rec");
  mkdirSync(out, { recursive: true });
  t = performance.now();
  for (let i = 0; i < N; i++)
    await copyFile(join(ref.dir, "run-a", "720p", `seg-${i}.m4s`), join(out, `seg-${i}.m4s`));
  copyUs.push(((performance.now() - t) * 1000) / N);
  // The asset at the end: an hour of segments in 4 playlists (3 rungs + audio), rendered and written.
  const hour = Array.from({ length: 3600 }, (_, i) => ({
    ...ours.segs[i % N]!,
    uri: `../run-a/720p/seg-${i % N}.m4s`,
  }));
  const big = new Recording(vod, ours.dir, "s1");
  for (const p of ["720p", "480p", "360p", "audio"]) await big.add(`${p}/index.m3u8`, hour);
  t = performance.now();
  await big.finish({
    master: "#EXTM3U\n",
    nodeId: "n1",
    renditions: ["720p", "480p", "360p"],
    playbackPolicy: "public",
  });
  finishMs.push(performance.now() - t);
  rmSync(join(root, `ours-${run}`), { recursive: true, force: true });
  rmSync(join(root, `copy-${run}`), { recursive: true, force: true });
}
rmSync(root, { recursive: true, force: true });

const l = median(linkUs);
const c = median(copyUs);
console.log(`keep one ${Math.round(SIZE / 1000)} kB segment, median of ${RUNS} runs × ${N} segments:`);
console.log(`  ours (hard link, init once)  ${l.toFixed(1)} µs`);
console.log(`  copy (reference)             ${c.toFixed(1)} µs`);
console.log(`  ratio ours/copy              ${(l / c).toFixed(3)}×`);
console.log(
  `  per stream of 3 rungs + audio at 1 s segments: ${((l * 4) / 10_000).toFixed(3)} % of one core (ours), ${((c * 4) / 10_000).toFixed(3)} % (copy)`,
);
console.log(`asset of one hour (4 playlists × 3600 segments): ${median(finishMs).toFixed(1)} ms to write`);
