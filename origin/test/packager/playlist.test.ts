import { describe, expect, test } from "bun:test";
import HLS from "hls-parser";
import { renderMediaPlaylist, skippable } from "../../src/packager/playlist.ts";
import type { LiveWindow } from "../../src/packager/window.ts";
import { T0, windowWith } from "./window-fixture.ts";

// Every rendered playlist must pass hls-parser's own RFC checks, not only parse.
HLS.setOptions({ strictMode: true });

type Media = InstanceType<typeof HLS.types.MediaPlaylist>;

function render(w: LiveWindow, extra: Partial<Parameters<typeof renderMediaPlaylist>[0]> = {}) {
  const text = renderMediaPlaylist({
    segments: w.listed(),
    segmentDuration: 2,
    partTarget: 0.5,
    lowLatency: true,
    nextPart: w.nextPart(),
    ended: w.isEnded,
    ...extra,
  });
  const parsed = HLS.parse(text) as Media;
  expect(parsed.isMasterPlaylist).toBe(false);
  return { text, parsed };
}

const lines = (text: string, tag: string) => text.split("\n").filter((l) => l.startsWith(tag));

describe("renderMediaPlaylist", () => {
  test("LL-HLS header: target duration, version, server control, part target, map", () => {
    const { text, parsed } = render(windowWith(10));
    expect(parsed.targetDuration).toBe(2);
    expect(parsed.version).toBe(6);
    expect(parsed.mediaSequenceBase).toBe(0);
    expect(parsed.partTargetDuration).toBe(0.5);
    expect(parsed.lowLatencyCompatibility).toMatchObject({
      canBlockReload: true,
      canSkipUntil: 12,
      partHoldBack: 1.5,
    });
    expect(parsed.lowLatencyCompatibility!.partHoldBack).toBeGreaterThanOrEqual(3 * 0.5);
    expect(parsed.segments[0]?.map.uri).toBe("init.mp4");
    expect(lines(text, "#EXT-X-MAP")).toHaveLength(1);
  });

  test("complete segments carry EXTINF and date; the open one only parts; a preload hint follows", () => {
    const { text, parsed } = render(windowWith(10));
    const complete = parsed.segments.filter((s) => s.uri);
    expect(complete.map((s) => s.uri)).toEqual(["seg-0.m4s", "seg-1.m4s"]);
    expect(complete.map((s) => s.duration)).toEqual([2, 2]);
    expect(complete.map((s) => s.programDateTime?.getTime())).toEqual([T0, T0 + 2000]);
    expect(complete[1]?.parts.map((p) => [p.uri, p.duration, p.independent ?? false])).toEqual([
      ["part-1.0.m4s", 0.5, true],
      ["part-1.1.m4s", 0.5, false],
      ["part-1.2.m4s", 0.5, false],
      ["part-1.3.m4s", 0.5, false],
    ]);
    const open = lines(text.split("#EXTINF:2,\nseg-1.m4s")[1]!, "#EXT-X-PART:");
    expect(open).toEqual([
      '#EXT-X-PART:DURATION=0.5,URI="part-2.0.m4s",INDEPENDENT=YES',
      '#EXT-X-PART:DURATION=0.5,URI="part-2.1.m4s"',
    ]);
    expect(lines(text, "#EXT-X-PRELOAD-HINT")).toEqual(['#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-2.2.m4s"']);
    const hints = parsed.segments.at(-1)!.parts.filter((p) => p.hint);
    expect(hints.map((p) => p.uri)).toEqual(["part-2.2.m4s"]);
  });

  test("parts only for segments within three target durations of the end", () => {
    const { text } = render(windowWith(4 * 8 + 1));
    // 8 complete segments, 6 listed (msn 2..7), then open msn 8 with one part; the end is at
    // 16.5 s, so segments starting at ≥ 10.5 s (msn 6, 7) and the open one keep their parts.
    const partSegments = new Set(lines(text, "#EXT-X-PART:").map((l) => l.match(/part-(\d+)\./)![1]));
    expect([...partSegments]).toEqual(["6", "7", "8"]);
    expect(lines(text, "#EXTINF")).toHaveLength(6);
    expect(HLS.parse(text)).toBeDefined();
  });

  test("byte ranges into the segment file, and a preload hint with BYTERANGE-START", () => {
    const w = windowWith(6);
    const { text, parsed } = render(w, { partAddressing: "byterange" });
    const s0 = parsed.segments[0]!;
    expect(s0.parts.map((p) => [p.uri, p.byterange])).toEqual([
      ["seg-0.m4s", { length: 1000, offset: 0 }],
      ["seg-0.m4s", { length: 1001, offset: 1000 }],
      ["seg-0.m4s", { length: 1002, offset: 2001 }],
      ["seg-0.m4s", { length: 1003, offset: 3003 }],
    ]);
    expect(lines(text, "#EXT-X-PRELOAD-HINT")).toEqual([
      `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg-1.m4s",BYTERANGE-START=${1004 + 1005}`,
    ]);
  });

  test("rendition reports for the other rungs", () => {
    const { text, parsed } = render(windowWith(6), {
      renditionReports: [
        { uri: "../720p/index.m3u8", lastMsn: 1, lastPart: 1 },
        { uri: "../360p/index.m3u8", lastMsn: 1, lastPart: 0 },
      ],
    });
    expect(parsed.renditionReports.map((r) => [r.uri, r.lastMSN, r.lastPart])).toEqual([
      ["../720p/index.m3u8", 1, 1],
      ["../360p/index.m3u8", 1, 0],
    ]);
    expect(lines(text, "#EXT-X-RENDITION-REPORT")[0]).toBe(
      '#EXT-X-RENDITION-REPORT:URI="../720p/index.m3u8",LAST-MSN=1,LAST-PART=1',
    );
  });

  test("delta update skips the segments older than CAN-SKIP-UNTIL", () => {
    const w = windowWith(4 * 12 + 2, { windowSize: 10 });
    const full = render(w).parsed;
    const { text, parsed } = render(w, { skip: true });
    // 10 listed segments + 1 s open = 21 s; the boundary is 21 - 12 = 9 s: 4 whole segments before it.
    expect(lines(text, "#EXT-X-SKIP")).toEqual(["#EXT-X-SKIP:SKIPPED-SEGMENTS=4"]);
    expect(parsed.skip).toBe(4);
    expect(parsed.version).toBe(9);
    expect(parsed.mediaSequenceBase).toBe(full.mediaSequenceBase);
    const uris = parsed.segments.filter((s) => s.uri).map((s) => s.uri);
    expect(uris).toEqual(
      full.segments
        .filter((s) => s.uri)
        .slice(4)
        .map((s) => s.uri),
    );
  });

  test("no EXT-X-SKIP when nothing lies past the boundary", () => {
    const { text } = render(windowWith(10), { skip: true });
    expect(lines(text, "#EXT-X-SKIP")).toEqual([]);
    expect(skippable(windowWith(10).listed(), 0)).toBe(0);
  });

  test("plain HLS: complete segments only, no LL tags, still one map and dates", () => {
    const { text, parsed } = render(windowWith(10), { lowLatency: false });
    for (const tag of ["#EXT-X-PART", "#EXT-X-PRELOAD-HINT", "#EXT-X-SERVER-CONTROL", "#EXT-X-SKIP"])
      expect(lines(text, tag)).toEqual([]);
    expect(parsed.version).toBe(6);
    expect(parsed.segments.map((s) => s.uri)).toEqual(["seg-0.m4s", "seg-1.m4s"]);
  });

  test("an LL playlist read by a player that drops the LL tags is a valid live playlist", () => {
    const { text } = render(windowWith(10));
    const stripped = text
      .split("\n")
      .filter((l) => !/^#EXT-X-(PART|PART-INF|PRELOAD-HINT|SERVER-CONTROL|RENDITION-REPORT|SKIP)[:]/.test(l))
      .join("\n");
    const parsed = HLS.parse(stripped) as Media;
    expect(parsed.segments.map((s) => [s.uri, s.duration])).toEqual([
      ["seg-0.m4s", 2],
      ["seg-1.m4s", 2],
    ]);
    expect(parsed.endlist).toBe(false);
  });

  test("the end of the stream: ENDLIST, no preload hint", () => {
    const w = windowWith(10);
    w.end();
    const { text, parsed } = render(w);
    expect(parsed.endlist).toBe(true);
    expect(lines(text, "#EXT-X-PRELOAD-HINT")).toEqual([]);
    expect(parsed.segments.map((s) => s.duration)).toEqual([2, 2, 1]);
  });

  test("target duration never below the configured segment, raised by a long segment", () => {
    const w = windowWith(4 * 3, { gopAligned: false });
    w.add({ decodeTime: 6, duration: 0.5, independent: false, length: 1, arrivedAt: T0 });
    w.add({ decodeTime: 6.5, duration: 0.5, independent: false, length: 1, arrivedAt: T0 });
    w.add({ decodeTime: 7, duration: 0.5, independent: true, length: 1, arrivedAt: T0 });
    // Segment 2 ran 3 s (no keyframe at 6 s): EXTINF 3 rounds to 3.
    expect(render(w, { partTarget: 0.5 }).parsed.targetDuration).toBe(3);
    expect(render(windowWith(2)).parsed.targetDuration).toBe(2);
  });
});
