/** Served playlists and manifest across runs, pure: sequence continuity, discontinuities, Periods. */
import { describe, expect, test } from "bun:test";
import { parseMediaPlaylist } from "../src/supervisor/playlist.ts";
import { composeManifest, readRunManifest, ServedPlaylist } from "../src/supervisor/served.ts";

/** A dash-muxer media playlist as ffmpeg writes it (PDT after EXTINF). */
function ffmpegPlaylist(run: string, first: number, count: number, dir = "0"): string {
  const lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:1", `#EXT-X-MEDIA-SEQUENCE:${first}`];
  lines.push(`#EXT-X-MAP:URI="${dir}/init-${run}.mp4"`);
  for (let n = first; n < first + count; n++) {
    lines.push("#EXTINF:1.000000,", `#EXT-X-PROGRAM-DATE-TIME:2026-12-01T21:48:${10 + n}.000+0000`);
    lines.push(`${dir}/seg-${run}-${String(n).padStart(5, "0")}.m4s`);
  }
  return `${lines.join("\n")}\n`;
}

describe("served media playlist", () => {
  test("a run's segments are re-served from its folder; the window slides; sequence grows", () => {
    const pl = new ServedPlaylist("media_0.m3u8", 4, 1);
    expect(pl.ingest("run-a/media_0.m3u8", "a", "run-a", parseMediaPlaylist(ffmpegPlaylist("a", 1, 2)))).toBe(
      2,
    );
    expect(pl.ingest("run-a/media_0.m3u8", "a", "run-a", parseMediaPlaylist(ffmpegPlaylist("a", 1, 2)))).toBe(
      0,
    );
    expect(pl.ingest("run-a/media_0.m3u8", "a", "run-a", parseMediaPlaylist(ffmpegPlaylist("a", 3, 4)))).toBe(
      4,
    );
    const out = parseMediaPlaylist(pl.render());
    expect(out.mediaSequence).toBe(2);
    expect(out.segments).toEqual([3, 4, 5, 6].map((n) => `run-a/0/seg-a-0000${n}.m4s`));
    expect(out.mapUri).toBe("run-a/0/init-a.mp4");
    expect(out.discontinuities).toEqual([]);
    expect(out.dates[0]).toBe("2026-12-01T21:48:13.000+0000");
    expect(pl.render()).toContain("#EXT-X-TARGETDURATION:1\n");
  });

  test("a restart continues the sequence with a discontinuity and the new run's init segment", () => {
    const pl = new ServedPlaylist("media_0.m3u8", 4, 1);
    pl.ingest("run-a/media_0.m3u8", "a", "run-a", parseMediaPlaylist(ffmpegPlaylist("a", 1, 5)));
    const before = parseMediaPlaylist(pl.render());
    // The new process numbers from 1 again, in its own folder.
    pl.ingest("run-b/media_0.m3u8", "b", "run-b", parseMediaPlaylist(ffmpegPlaylist("b", 1, 2)));
    const text = pl.render();
    const after = parseMediaPlaylist(text);
    expect(after.mediaSequence).toBeGreaterThan(before.mediaSequence);
    expect(after.mediaSequence + after.segments.length).toBe(
      before.mediaSequence + before.segments.length + 2,
    );
    expect(after.segments).toEqual([
      "run-a/0/seg-a-00004.m4s",
      "run-a/0/seg-a-00005.m4s",
      "run-b/0/seg-b-00001.m4s",
      "run-b/0/seg-b-00002.m4s",
    ]);
    expect(after.discontinuities).toEqual([2]);
    expect(text).toContain('#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="run-b/0/init-b.mp4"');
    expect(new Set(after.segments).size).toBe(after.segments.length);
    expect([...pl.runs()].sort()).toEqual(["a", "b"]);

    // The discontinuity slides out: EXT-X-DISCONTINUITY-SEQUENCE counts it.
    pl.ingest("run-b/media_0.m3u8", "b", "run-b", parseMediaPlaylist(ffmpegPlaylist("b", 1, 6)));
    const later = parseMediaPlaylist(pl.render());
    expect(later.discontinuitySequence).toBe(1);
    expect(later.discontinuities).toEqual([]);
    expect([...pl.runs()]).toEqual(["b"]);
  });

  test("a playlist in a rendition folder points into the run folder relative to itself", () => {
    const pl = new ServedPlaylist("180p/index.m3u8", 4, 2);
    const src = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.0,\nseg-a-00000.ts\n";
    pl.ingest("run-a/180p/index.m3u8", "a", "run-a/180p", parseMediaPlaylist(src));
    const out = parseMediaPlaylist(pl.render());
    expect(out.segments).toEqual(["../run-a/180p/seg-a-00000.ts"]);
    expect(pl.render()).toContain("#EXT-X-VERSION:3");
  });
});

const MPD = (ast: string, run: string) => `<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" availabilityStartTime="${ast}" minimumUpdatePeriod="PT500S">
\t<Period id="0" start="PT0.0S">
\t\t<AdaptationSet id="0" contentType="video" segmentAlignment="true" bitstreamSwitching="true">
\t\t\t<Representation id="0" mimeType="video/mp4" bandwidth="300000">
\t\t\t\t<SegmentTemplate timescale="15360" initialization="$RepresentationID$/init-${run}.mp4" media="$RepresentationID$/seg-${run}-$Number%05d$.m4s" startNumber="1">
\t\t\t\t\t<SegmentTimeline><S t="0" d="15360" r="3" /></SegmentTimeline>
\t\t\t\t</SegmentTemplate>
\t\t\t</Representation>
\t\t</AdaptationSet>
\t</Period>
\t<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-xsdate:2014" value="http://router.example.net/time"/>
</MPD>
`;

describe("served DASH manifest", () => {
  test("one Period per run, starting at that run's clock, templates into its folder", () => {
    const a = readRunManifest("a", "run-a", MPD("2026-12-01T21:00:00.000Z", "a"))!;
    const b = readRunManifest("b", "run-b", MPD("2026-12-01T21:00:12.500Z", "b"))!;
    expect(readRunManifest("c", "run-c", "<MPD></MPD>")).toBeUndefined();
    const one = composeManifest([a]);
    expect(one).toContain('<Period id="a" start="PT0.000S">');
    expect(one).toContain('initialization="run-a/$RepresentationID$/init-a.mp4"');
    const two = composeManifest([a, b]);
    expect(two.match(/<Period /g)).toHaveLength(2);
    expect(two).toContain('availabilityStartTime="2026-12-01T21:00:00.000Z"');
    expect(two).toContain('<Period id="b" start="PT12.500S">');
    expect(two).toContain('media="run-b/$RepresentationID$/seg-b-$Number%05d$.m4s"');
    expect(two.trimEnd().endsWith("</MPD>")).toBe(true);
    expect(two.indexOf('id="a"')).toBeLessThan(two.indexOf('id="b"'));
    // What follows the Periods (the players' clock) is kept once, after the last Period.
    expect(two.match(/<UTCTiming /g)).toHaveLength(1);
    expect(two.indexOf("<UTCTiming ")).toBeGreaterThan(two.lastIndexOf("</Period>"));
    expect(two).toContain('value="http://router.example.net/time"');
    // Rungs with their own init segments are not bitstream-switchable, whatever ffmpeg says.
    expect(two).not.toContain('bitstreamSwitching="true"');
    expect(two).toContain('bitstreamSwitching="false"');
  });
});

describe("a session taken over from another node", () => {
  test("its playlist goes on from the old node's numbers: same media sequence on, one discontinuity past", () => {
    const pl = new ServedPlaylist("media_0.m3u8", 4, 1, { mediaSequence: 41, discontinuitySequence: 2 });
    pl.ingest("run-a/media_0.m3u8", "a", "run-a", parseMediaPlaylist(ffmpegPlaylist("a", 1, 2)));
    const text = pl.render();
    expect(text).toContain("#EXT-X-MEDIA-SEQUENCE:41");
    expect(text).toContain("#EXT-X-DISCONTINUITY-SEQUENCE:2");
    // The first segment is tagged: hls.js counts it as discontinuity 3, one past the old node's.
    expect(text.indexOf("#EXT-X-DISCONTINUITY\n")).toBeLessThan(text.indexOf("#EXTINF"));
    expect(pl.position()).toEqual({ next: 43, discontinuity: 3 });
  });
});
