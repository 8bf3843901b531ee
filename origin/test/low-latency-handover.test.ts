/**
 * The hand-over between low-latency runs (ADR 0083), on real CMAF from ffmpeg (recorded, then
 * fed to the packagers as the pipes would): a restart that sheds the top rung, and a restart
 * replaced again before its first segment; and the LL-DASH manifest across both.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type ProfileSpec } from "@dionysia/shared";
import { FFMPEG } from "@dionysia/shared/testkit";
import { execa } from "execa";
import HLS from "hls-parser";
import { cmafMuxerArgs } from "../src/packager/reader.ts";
import { LowLatencyRun } from "../src/supervisor/low-latency.ts";
import { FfmpegBackend } from "../src/transcoder/ffmpeg/index.ts";
import type { TranscodeJob } from "../src/transcoder/types.ts";
import { all, expandTimeline, one, parseXml, seconds, type XmlElement } from "./packager/xml.ts";

const logger = createLogger({ service: "test", level: "silent" });
const rung = (name: string, height: number) => ({
  name,
  codec: "h264" as const,
  width: (height * 16) / 9,
  height,
  fps: 15,
  bitrateKbps: 200,
  preset: "ultrafast" as const,
});
const full: ProfileSpec = {
  name: "handover",
  renditions: [rung("180p", 180), rung("90p", 90)],
  audio: null,
  segmentDuration: 1,
  partDuration: 0.25,
  windowSize: 4,
  formats: ["ll-hls"],
  container: "fmp4",
};
const shed: ProfileSpec = { ...full, renditions: [rung("90p", 90)] };

let dir: string;
const files = new Map<string, string>();
const backend = new FfmpegBackend();

/** 4 s of one rung as ffmpeg's CMAF stream would carry it, keyframe every segment. */
async function record(height: number): Promise<string> {
  const f = join(dir, `${height}.mp4`);
  await execa(FFMPEG!, [
    ...[
      "-v",
      "error",
      "-f",
      "lavfi",
      "-i",
      `testsrc2=size=${(height * 16) / 9}x${height}:rate=15`,
      "-t",
      "4",
    ],
    ...["-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-keyint_min", "15", "-sc_threshold", "0"],
    ...cmafMuxerArgs(0.25),
    f,
  ]);
  return f;
}

function run(profile: ProfileSpec, runId: string, previous?: LowLatencyRun) {
  const job: TranscodeJob = {
    streamId: "s",
    profile,
    inputUrl: "unused",
    outDir: join(dir, "live", `run-${runId}`),
    runId,
    input: { hasVideo: true, hasAudio: false },
  };
  return new LowLatencyRun(job, backend.layout(job), join(dir, "live"), previous);
}

const feed = (ll: LowLatencyRun) =>
  ll.consume(
    ll.rungs.map((r) => Bun.file(files.get(r.out.dir)!).stream() as unknown as AsyncIterable<Uint8Array>),
    logger,
  );

const playlist = async (ll: LowLatencyRun, path: string) => {
  const a = await ll.answer(path, new URLSearchParams());
  return { status: a?.status, text: a?.body ?? "" };
};

describe.skipIf(!FFMPEG)("low-latency hand-over between runs", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ll-handover-"));
    files.set("180p", await record(180));
    files.set("90p", await record(90));
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("a shed rung's playlist goes on with the top rung left; a run replaced before its first segment is skipped", async () => {
    const a = run(full, "a");
    await feed(a);
    const before = HLS.parse((await playlist(a, "180p/index.m3u8")).text) as HLS.types.MediaPlaylist;
    const lastA = before.mediaSequenceBase! + before.segments.filter((s) => s.uri).length - 1;

    // b replaces a (shed: 90p only) and is itself replaced by c before writing anything.
    const b = run(shed, "b", a);
    const c = run(shed, "c", b);
    // Until c has a segment, the newest run with one (a) answers, for both playlists.
    for (const p of ["180p/index.m3u8", "90p/index.m3u8"]) {
      const r = await playlist(c, p);
      expect(r.status).toBe(200);
      expect(r.text).toContain("seg-a-");
      expect(r.text).not.toContain("#EXT-X-ENDLIST");
    }
    await feed(c);
    // The shed rung's path now serves the 90p run's files, relative to its own folder.
    const text = (await playlist(c, "180p/index.m3u8")).text;
    const after = HLS.parse(text) as HLS.types.MediaPlaylist;
    expect(after.segments.filter((s) => s.uri).length).toBeGreaterThan(0);
    expect(after.segments.every((s) => !s.uri || s.uri.startsWith("../90p/seg-c-"))).toBe(true);
    expect(text).toContain('#EXT-X-MAP:URI="../90p/init-c.mp4"');
    expect(text).toMatch(/#EXT-X-PART:DURATION=[0-9.]+,URI="\.\.\/90p\/part-c-/);
    // The sequence goes on past a's (b never wrote one) with the discontinuity sequence of c.
    expect(after.mediaSequenceBase!).toBeGreaterThan(lastA);
    expect(after.discontinuitySequenceBase).toBe(2);
    // A path no run ever served is still nobody's.
    expect(c.answer("720p/index.m3u8", new URLSearchParams())).toBeUndefined();
    // And the kept rung is itself.
    expect((await playlist(c, "90p/index.m3u8")).text).toContain('#EXT-X-MAP:URI="init-c.mp4"');
  }, 60_000);

  test("LL-DASH across the restarts: no unfinished segment announced, the replaced run a closed Period", async () => {
    const withDash: ProfileSpec = { ...full, formats: ["ll-hls", "dash"] };
    const a = run(withDash, "da");
    await feed(a);
    const b = run({ ...withDash, renditions: [rung("90p", 90)] }, "db", a);
    const c = run({ ...withDash, renditions: [rung("90p", 90)] }, "dc", b);
    // Before c has a segment, a's manifest answers, dynamic, with a's complete segments only:
    // a's encoder is gone, so the segment it had open will never be there.
    const waiting = parseXml(c.manifest() ?? "");
    expect(waiting.attrs.type).toBe("dynamic");
    const listed = (period: XmlElement) =>
      all(period, "Representation").flatMap((rep) => {
        const tpl = one(rep, "SegmentTemplate");
        const n = Number(tpl.attrs.startNumber);
        return expandTimeline(one(tpl, "SegmentTimeline")).map((_, i) =>
          tpl.attrs.media!.replace("$Number$", String(n + i)),
        );
      });
    for (const uri of listed(one(waiting, "Period"))) expect(existsSync(join(dir, "live", uri))).toBe(true);
    await feed(c);
    const mpd = parseXml(c.manifest() ?? "");
    const periods = all(mpd, "Period");
    // b wrote nothing: a's Period, closed, then c's.
    expect(periods.map((p) => p.attrs.id)).toEqual(["da", "dc"]);
    expect(periods[0]!.attrs.duration).toBeDefined();
    for (const tpl of all(periods[0]!, "SegmentTemplate"))
      expect(tpl.attrs.availabilityTimeOffset).toBeUndefined();
    for (const uri of listed(periods[0]!)) expect(existsSync(join(dir, "live", uri))).toBe(true);
    expect(seconds(periods[1]!.attrs.start)).toBeGreaterThanOrEqual(
      seconds(periods[0]!.attrs.start) + seconds(periods[0]!.attrs.duration),
    );
  }, 60_000);
});
