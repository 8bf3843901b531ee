/** The test media every e2e test and latency benchmark uses: one definition of ladder and publisher. */

/** A small ladder that transcodes fast on 2 cores: 320x180 + 160x90 at 15 fps, 1 s segments. */
export function smallLadder(name = "e2e small ladder") {
  return {
    name,
    renditions: [
      {
        name: "180p",
        codec: "h264",
        width: 320,
        height: 180,
        fps: 15,
        bitrateKbps: 400,
        preset: "ultrafast",
      },
      { name: "90p", codec: "h264", width: 160, height: 90, fps: 15, bitrateKbps: 150, preset: "ultrafast" },
    ],
    audio: { codec: "aac", bitrateKbps: 64, channels: 2, sampleRate: 48000 },
    segmentDuration: 1,
    windowSize: 6,
    formats: ["hls", "dash"],
    container: "fmp4",
  };
}

export interface PatternOptions {
  size?: string;
  rate?: number;
  /** Stop after this many seconds (default: until killed). */
  seconds?: number;
}

/** ffmpeg input + encode arguments of a live test pattern with a tone (real time, GOP of 1 s). */
export function testPatternArgs(o: PatternOptions = {}): string[] {
  const size = o.size ?? "320x180";
  const rate = o.rate ?? 15;
  return [
    "-hide_banner",
    "-loglevel",
    "error",
    "-re",
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=${size}:rate=${rate}`,
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000",
    ...(o.seconds ? ["-t", String(o.seconds)] : []),
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-g",
    String(rate),
    "-c:a",
    "aac",
    "-b:a",
    "64k",
  ];
}

/** Pushes the test pattern: RTMP (`flv`) or SRT (`mpegts`). */
export function pushTestPattern(url: string, format: "flv" | "mpegts", o: PatternOptions = {}) {
  return Bun.spawn(["ffmpeg", ...testPatternArgs(o), "-f", format, url], {
    stdout: "ignore",
    stderr: "inherit",
  });
}
