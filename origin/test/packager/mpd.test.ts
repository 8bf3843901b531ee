/** The LL-DASH manifest, parsed back and checked against the windows it was rendered from. */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { FFMPEG, FFMPEG_INSTALL, requireBinary, testPatternArgs } from "@dionysia/shared/testkit";
import type { InitInfo } from "../../src/packager/fragment.ts";
import {
  availabilityTimeOffset,
  DASH_PROFILES,
  defaultLatency,
  type MpdInput,
  type MpdRendition,
  numberTemplate,
  renderLiveMpd,
} from "../../src/packager/mpd.ts";
import { cmafMuxerArgs, type InitSegment } from "../../src/packager/reader.ts";
import { LiveWindow } from "../../src/packager/window.ts";
import { chunks, encodeCapture, readAll } from "./capture.ts";
import { T0, windowWith } from "./window-fixture.ts";
import { all, expandTimeline, one, parseXml, seconds, type XmlElement } from "./xml.ts";

const VIDEO_TS = 15360;
const videoInit = (width: number, height: number): InitInfo => ({
  tracks: [
    {
      trackId: 1,
      timescale: VIDEO_TS,
      handler: "vide",
      defaultSampleDuration: 0,
      defaultSampleFlags: 0,
      codec: "avc1.64001f",
      width,
      height,
    },
  ],
  timingTrack: 1,
});
const audioInit: InitInfo = {
  tracks: [
    {
      trackId: 1,
      timescale: 48000,
      handler: "soun",
      defaultSampleDuration: 0,
      defaultSampleFlags: 0,
      codec: "mp4a.40.2",
      sampleRate: 48000,
      channels: 2,
    },
  ],
  timingTrack: 1,
};

const rendition = (
  w: LiveWindow,
  id: string,
  init: InitInfo | undefined,
  extra: Partial<MpdRendition> = {},
) =>
  ({
    id,
    path: id,
    init,
    segments: w.listed(),
    segmentDuration: w.config.segmentDuration,
    partTarget: 0.5,
    ...extra,
  }) satisfies MpdRendition;

const NOW = T0 + 60_000;
const TIME_URL = "https://origin.example/time?a=1&b=2";

function render(input: Partial<MpdInput> & Pick<MpdInput, "video">): XmlElement {
  const text = renderLiveMpd({ utcTimingUrl: TIME_URL, now: NOW, ...input });
  if (text === undefined) throw new Error("no MPD");
  return parseXml(text);
}

function templateOf(mpd: XmlElement, id: string): XmlElement {
  const rep = all(mpd, "Representation").find((r) => r.attrs.id === id);
  if (!rep) throw new Error(`no Representation ${id}`);
  return one(rep, "SegmentTemplate");
}

/** 3 complete segments and one open with a single part (13 parts of 0.5 s, 2 s segments). */
const live = () => windowWith(13);

describe("renderLiveMpd, live", () => {
  const w720 = live();
  const w360 = live();
  const wa = live();
  const mpd = render({
    video: [
      rendition(w720, "720p", videoInit(1280, 720), { bandwidth: 3_000_000, frameRate: 30 }),
      rendition(w360, "360p", videoInit(640, 360), { bandwidth: 800_000, frameRate: "30000/1001" }),
    ],
    audio: rendition(wa, "audio", audioInit, { bandwidth: 96_000 }),
  });

  test("a dynamic MPD with the clock of the first segment and the live timing attributes", () => {
    expect(mpd.name).toBe("MPD");
    const a = mpd.attrs;
    expect(a.xmlns).toBe("urn:mpeg:dash:schema:mpd:2011");
    expect(a.profiles).toBe(DASH_PROFILES);
    expect(a.type).toBe("dynamic");
    // windowWith: the first 0.5 s fragment arrives at T0 + 0.5 s, so media time 0 is T0.
    const first = w720.segments[0]!;
    expect(Date.parse(a.availabilityStartTime!)).toBe(first.programDateTime - first.decodeTime * 1000);
    expect(a.availabilityStartTime).toBe(new Date(T0).toISOString());
    expect(a.publishTime).toBe(new Date(NOW).toISOString());
    expect(seconds(a.minimumUpdatePeriod)).toBe(2);
    expect(seconds(a.timeShiftBufferDepth)).toBe(6); // the three complete segments
    expect(seconds(a.maxSegmentDuration)).toBe(2);
    expect(seconds(a.minBufferTime)).toBe(1);
    expect(seconds(a.suggestedPresentationDelay)).toBe(defaultLatency(0.5).target);
    expect(a.mediaPresentationDuration).toBeUndefined();
  });

  test("children in schema order: ServiceDescription, Period, UTCTiming", () => {
    expect(mpd.children.map((c) => c.name)).toEqual(["ServiceDescription", "Period", "UTCTiming"]);
    const sd = one(mpd, "ServiceDescription");
    expect(sd.attrs.id).toBe("0");
    const l = defaultLatency(0.5);
    expect(one(sd, "Latency").attrs).toEqual({
      target: String(l.target * 1000),
      min: String(l.min * 1000),
      max: String(l.max * 1000),
    });
    expect(one(sd, "PlaybackRate").attrs).toEqual({ min: "0.96", max: "1.04" });
    expect(one(mpd, "UTCTiming").attrs).toEqual({
      schemeIdUri: "urn:mpeg:dash:utc:http-xsdate:2014",
      value: TIME_URL, // written escaped, read back whole
    });
    expect(one(mpd, "Period").attrs).toEqual({ id: "0", start: "PT0S" });
  });

  test("a video AdaptationSet with one Representation per rung, and an audio one", () => {
    const sets = all(mpd, "AdaptationSet");
    expect(sets.map((s) => [s.attrs.contentType, s.attrs.mimeType])).toEqual([
      ["video", "video/mp4"],
      ["audio", "audio/mp4"],
    ]);
    expect(sets[0]!.attrs).toMatchObject({ maxWidth: "1280", maxHeight: "720", segmentAlignment: "true" });
    const reps = all(sets[0]!, "Representation").map((r) => r.attrs);
    expect(reps).toEqual([
      {
        id: "720p",
        bandwidth: "3000000",
        codecs: "avc1.64001f",
        width: "1280",
        height: "720",
        frameRate: "30",
      },
      {
        id: "360p",
        bandwidth: "800000",
        codecs: "avc1.64001f",
        width: "640",
        height: "360",
        frameRate: "30000/1001",
      },
    ]);
    const audio = one(sets[1]!, "Representation");
    expect(audio.attrs).toEqual({
      id: "audio",
      bandwidth: "96000",
      codecs: "mp4a.40.2",
      audioSamplingRate: "48000",
    });
    expect(one(audio, "AudioChannelConfiguration").attrs.value).toBe("2");
  });

  test("SegmentTemplate: the init's timescale, $Number$ into the rendition folder, the LL attributes", () => {
    const t = templateOf(mpd, "720p").attrs;
    expect(t).toMatchObject({
      timescale: String(VIDEO_TS),
      initialization: "720p/init.mp4",
      media: "720p/seg-$Number$.m4s",
      startNumber: "0",
      availabilityTimeComplete: "false",
    });
    expect(Number(t.availabilityTimeOffset)).toBe(1.5);
    expect(templateOf(mpd, "audio").attrs.timescale).toBe("48000");
  });

  test("the timeline: every complete segment, the open one and the next at their nominal duration", () => {
    const entries = expandTimeline(one(templateOf(mpd, "720p"), "SegmentTimeline"));
    const segs = w720.listed();
    expect(segs.map((s) => s.complete)).toEqual([true, true, true, false]);
    expect(entries.length).toBe(segs.length + 1);
    segs.forEach((s, i) => {
      expect(entries[i]!.t).toBe(Math.round(s.decodeTime * VIDEO_TS));
      expect(entries[i]!.d).toBe(s.complete ? Math.round(s.duration * VIDEO_TS) : 2 * VIDEO_TS);
    });
    expect(entries.at(-1)).toEqual({ t: 8 * VIDEO_TS, d: 2 * VIDEO_TS });
    // Equal durations fold into one S with a repeat count.
    expect(one(templateOf(mpd, "720p"), "SegmentTimeline").children.map((s) => s.attrs)).toEqual([
      { t: "0", d: String(2 * VIDEO_TS), r: "4" },
    ]);
    // The open segment is available one part after it starts: its nominal end less the offset.
    const ato = Number(templateOf(mpd, "720p").attrs.availabilityTimeOffset);
    const open = entries[3]!;
    expect((open.t + open.d) / VIDEO_TS - ato).toBeCloseTo(segs[3]!.decodeTime + 0.5, 9);
  });
});

describe("renderLiveMpd, window edges", () => {
  test("after eviction: startNumber and the first S@t are the oldest listed segment", () => {
    const w = windowWith(40, { windowSize: 3 }); // segments 0..9 complete, window of 3
    const mpd = render({ video: [rendition(w, "v", videoInit(640, 360))] });
    const listed = w.listed();
    const tpl = one(mpd, "SegmentTemplate");
    expect(tpl.attrs.startNumber).toBe(String(listed[0]!.msn));
    expect(listed[0]!.msn).toBe(7);
    const entries = expandTimeline(one(tpl, "SegmentTimeline"));
    expect(entries[0]!.t).toBe(Math.round(listed[0]!.decodeTime * VIDEO_TS));
    expect(entries.length).toBe(4); // three complete, then the next (nothing open)
    expect(seconds(mpd.attrs.timeShiftBufferDepth)).toBe(6);
  });

  test("a segment cut short on a keyframe: its own S, the timeline stays contiguous", () => {
    const w = new LiveWindow({ segmentDuration: 2, windowSize: 6 });
    // 4 parts, then a keyframe after 3 parts (1.5 s ≥ 75 %), then 4 parts and 1 open.
    const keys = [0, 4, 7, 11];
    for (let i = 0; i < 12; i++)
      w.add({
        decodeTime: i * 0.5,
        duration: 0.5,
        independent: keys.includes(i),
        length: 1000,
        arrivedAt: T0 + (i + 1) * 500,
      });
    const mpd = render({ video: [rendition(w, "v", videoInit(640, 360), { bandwidth: 1 })] });
    const timeline = one(mpd, "SegmentTimeline");
    const d = 2 * VIDEO_TS;
    expect(timeline.children.map((s) => s.attrs)).toEqual([
      { t: "0", d: String(d) },
      { d: String(1.5 * VIDEO_TS) },
      { d: String(d), r: "2" },
    ]);
    const entries = expandTimeline(timeline);
    for (const [i, s] of w.listed().entries()) expect(entries[i]!.t).toBe(s.decodeTime * VIDEO_TS);
    expect(seconds(mpd.attrs.maxSegmentDuration)).toBe(2);
  });

  test("audio cut at 1.536 s (every fragment independent): the open and next are announced at that", () => {
    const w = new LiveWindow({ segmentDuration: 2, windowSize: 6 });
    for (let i = 0; i < 7; i++)
      w.add({
        decodeTime: i * 0.512,
        duration: 0.512,
        independent: true,
        length: 800,
        arrivedAt: T0 + (i + 1) * 512,
      });
    expect(w.listed().map((s) => [s.parts.length, s.complete])).toEqual([
      [3, true],
      [3, true],
      [1, false],
    ]);
    const mpd = render({
      video: [rendition(windowWith(13), "v", videoInit(640, 360))],
      audio: rendition(w, "a", audioInit, { partTarget: 0.512 }),
    });
    const tpl = templateOf(mpd, "a");
    const entries = expandTimeline(one(tpl, "SegmentTimeline"));
    expect(entries).toEqual([0, 1, 2, 3].map((k) => ({ t: k * 73728, d: 73728 })));
    expect(Number(tpl.attrs.availabilityTimeOffset)).toBe(1.024);
  });

  test("bandwidth defaults to the peak of the complete segments", () => {
    const w = windowWith(13);
    const mpd = render({ video: [rendition(w, "v", videoInit(640, 360))] });
    const peak = Math.max(
      ...w
        .listed()
        .filter((s) => s.complete)
        .map((s) => (s.length * 8) / s.duration),
    );
    expect(one(mpd, "Representation").attrs.bandwidth).toBe(String(Math.round(peak)));
  });

  test("nothing until every rendition has its init and a first segment", () => {
    const base = { utcTimingUrl: TIME_URL, now: NOW };
    const w = windowWith(2);
    expect(renderLiveMpd({ ...base, video: [rendition(w, "v", undefined)] })).toBeUndefined();
    expect(
      renderLiveMpd({ ...base, video: [rendition(windowWith(0), "v", videoInit(1, 1))] }),
    ).toBeUndefined();
    expect(
      renderLiveMpd({
        ...base,
        video: [rendition(w, "v", videoInit(1, 1))],
        audio: rendition(windowWith(0), "a", audioInit),
      }),
    ).toBeUndefined();
    expect(renderLiveMpd({ ...base, video: [] })).toBeUndefined();
    expect(renderLiveMpd({ ...base, video: [rendition(w, "v", videoInit(1, 1))] })).toBeString();
  });

  test("overrides: latency, update period, clock; a rendition beside the MPD", () => {
    const w = windowWith(13);
    const ast = T0 - 5000;
    const mpd = render({
      video: [rendition(w, "v", videoInit(640, 360), { path: "" })],
      latency: { target: 3, min: 2, max: 6 },
      minimumUpdatePeriod: 0.5,
      availabilityStartTime: ast,
    });
    expect(mpd.attrs.availabilityStartTime).toBe(new Date(ast).toISOString());
    // The stream started 5 s before this run's media time 0: its Period starts there.
    expect(one(mpd, "Period").attrs.start).toBe("PT5S");
    expect(seconds(mpd.attrs.minimumUpdatePeriod)).toBe(0.5);
    expect(one(mpd, "Latency").attrs).toEqual({ target: "3000", min: "2000", max: "6000" });
    expect(one(mpd, "SegmentTemplate").attrs).toMatchObject({
      initialization: "init.mp4",
      media: "seg-$Number$.m4s",
    });
  });
});

describe("renderLiveMpd across an encoder restart", () => {
  /** A run whose media time 0 is `startMs` on the wall clock: `parts` fragments of 0.5 s. */
  const runWindow = (parts: number, startMs: number) => {
    const w = new LiveWindow({ segmentDuration: 2, windowSize: 6 });
    for (let i = 0; i < parts; i++)
      w.add({
        decodeTime: i * 0.5,
        duration: 0.5,
        independent: i % 4 === 0,
        length: 1000 + i,
        arrivedAt: startMs + (i + 1) * 500,
      });
    return w;
  };
  // The old run wrote 3 complete segments (6 s) and half a fourth; the new one began at T0 + 7 s.
  const old = runWindow(13, T0);
  const next = runWindow(5, T0 + 7000);
  const mpd = render({
    video: [rendition(next, "720p", videoInit(1280, 720))],
    availabilityStartTime: T0,
    periodId: "new",
    previous: { periodId: "old", video: [rendition(old, "720p", videoInit(1280, 720))] },
  });
  const periods = all(mpd, "Period");

  test("the replaced run is a closed Period first: its complete segments only, with its duration", () => {
    expect(mpd.attrs.type).toBe("dynamic");
    expect(periods.map((p) => p.attrs.id)).toEqual(["old", "new"]);
    expect(periods[0]!.attrs.start).toBe("PT0S");
    expect(periods[0]!.attrs.duration).toBe("PT6S");
    const tpl = one(periods[0]!, "SegmentTemplate");
    // Never the segment that run did not finish: a player asking for it got a 404 and stopped.
    expect(expandTimeline(one(tpl, "SegmentTimeline")).map((e) => e.t / VIDEO_TS)).toEqual([0, 2, 4]);
    expect(tpl.attrs.availabilityTimeOffset).toBeUndefined();
  });

  test("the new run's Period follows where its clock began, live as before", () => {
    expect(periods[1]!.attrs.start).toBe("PT7S");
    expect(periods[1]!.attrs.duration).toBeUndefined();
    expect(one(periods[1]!, "SegmentTemplate").attrs.availabilityTimeComplete).toBe("false");
  });

  test("a closed Period overlapping the next is cut where the next starts", () => {
    const late = render({
      video: [rendition(runWindow(5, T0 + 5000), "720p", videoInit(1280, 720))],
      availabilityStartTime: T0,
      previous: { periodId: "old", video: [rendition(old, "720p", videoInit(1280, 720))] },
    });
    expect(all(late, "Period")[0]!.attrs.duration).toBe("PT5S");
  });

  test("a stopped run (the next not ready yet): still dynamic, complete segments only", () => {
    const stopped = render({ video: [rendition(old, "720p", videoInit(1280, 720))], stopped: true });
    expect(stopped.attrs.type).toBe("dynamic");
    const tpl = one(stopped, "SegmentTemplate");
    expect(expandTimeline(one(tpl, "SegmentTimeline")).length).toBe(3);
    expect(tpl.attrs.availabilityTimeOffset).toBeUndefined();
  });
});

describe("renderLiveMpd, ended", () => {
  const w = windowWith(13);
  w.end(); // the open segment closes short (0.5 s)
  const wa = windowWith(14);
  wa.end();
  const mpd = render({
    video: [rendition(w, "v", videoInit(640, 360))],
    audio: rendition(wa, "a", audioInit),
    ended: true,
  });

  test("static, with the duration of the longest rendition and no live-only attributes", () => {
    expect(mpd.attrs.type).toBe("static");
    expect(seconds(mpd.attrs.mediaPresentationDuration)).toBe(7); // audio: 14 parts of 0.5 s
    for (const gone of ["minimumUpdatePeriod", "timeShiftBufferDepth", "suggestedPresentationDelay"])
      expect(mpd.attrs[gone]).toBeUndefined();
    expect(all(mpd, "ServiceDescription")).toEqual([]);
    for (const tpl of all(mpd, "SegmentTemplate")) {
      expect(tpl.attrs.availabilityTimeOffset).toBeUndefined();
      expect(tpl.attrs.availabilityTimeComplete).toBeUndefined();
    }
  });

  test("the timeline is exactly the segments, the short last one included", () => {
    const entries = expandTimeline(one(templateOf(mpd, "v"), "SegmentTimeline"));
    expect(entries).toEqual(
      w.listed().map((s) => ({ t: s.decodeTime * VIDEO_TS, d: s.duration * VIDEO_TS })),
    );
    expect(entries.at(-1)!.d).toBe(0.5 * VIDEO_TS);
  });
});

describe("helpers", () => {
  test("availabilityTimeOffset: all but the first part, rounded down to the millisecond", () => {
    expect(availabilityTimeOffset(2, 0.5)).toBe(1.5);
    expect(availabilityTimeOffset(2, 8 / 15)).toBe(1.466);
    expect(availabilityTimeOffset(1, 2)).toBe(0);
  });

  test("numberTemplate: $Number$ where the naming puts the number", () => {
    expect(numberTemplate((n) => `seg-${n}.m4s`)).toBe("seg-$Number$.m4s");
    expect(numberTemplate((n) => `chunks/${n}/media.mp4`)).toBe("chunks/$Number$/media.mp4");
    expect(() => numberTemplate(() => "fixed.m4s")).toThrow();
  });

  test("defaultLatency: three part targets, at least a second", () => {
    expect(defaultLatency(0.5)).toEqual({ target: 1.5, min: 0.5, max: 3 });
    expect(defaultLatency(0.2).target).toBe(1);
  });
});

const HAVE = requireBinary("ffmpeg", "packager mpd test", FFMPEG_INSTALL);

describe.skipIf(!HAVE)("renderLiveMpd on a real ffmpeg init", () => {
  test("codec strings, picture size, sample rate and channels come from the init segment", async () => {
    const items = await readAll(chunks(encodeCapture(2), () => 1 << 20));
    const init = items[0] as InitSegment;
    const video = init.tracks.find((t) => t.handler === "vide")!;
    const audio = init.tracks.find((t) => t.handler === "soun")!;
    // testsrc2 320x180 through libx264 ultrafast (constrained baseline); 48 kHz mono AAC-LC.
    expect(video).toMatchObject({ width: 320, height: 180 });
    expect(video.codec).toMatch(/^avc1\.[0-9a-f]{6}$/);
    expect(video.codec).toBe("avc1.42c00c");
    expect(audio).toMatchObject({ codec: "mp4a.40.2", sampleRate: 48000, channels: 1 });
    const w = windowWith(5);
    const mpd = render({ video: [rendition(w, "v", init)] });
    expect(one(mpd, "Representation").attrs).toMatchObject({
      codecs: "avc1.42c00c,mp4a.40.2",
      width: "320",
      height: "180",
    });
    expect(one(mpd, "SegmentTemplate").attrs.timescale).toBe(String(video.timescale));
  });
});

const X265 =
  HAVE && spawnSync(FFMPEG!, ["-hide_banner", "-encoders"], { encoding: "utf8" }).stdout.includes("libx265");

describe.skipIf(!X265)("HEVC codec string", () => {
  test("hvc1 / hev1 from hvcC: profile, reversed compatibility flags, tier and level, constraints", async () => {
    for (const tag of ["hev1", "hvc1"]) {
      const args = [
        ...testPatternArgs({ seconds: 1, audio: false }).filter((a) => a !== "-re"),
        ...["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=none", "-tag:v", tag],
        ...cmafMuxerArgs(0.5),
        "pipe:1",
      ];
      const r = spawnSync(FFMPEG!, args, { maxBuffer: 64 * 1024 * 1024 });
      const items = await readAll(chunks(new Uint8Array(r.stdout), () => 1 << 20));
      // Main profile (1, compatible with 1 and 2: 0x60000000 reversed = 6), Main tier, level 2 (60).
      expect((items[0] as InitSegment).tracks[0]).toMatchObject({ codec: `${tag}.1.6.L60.90`, width: 320 });
    }
  });
});
