/** Built-in profiles shipped with every installation. Ids are stable: `builtin-*`. */
import type { ProfileSpec } from "../schemas/profile.ts";

const AAC = { codec: "aac", bitrateKbps: 128, channels: 2, sampleRate: 48000 } as const;

/** 720p, 480p and 360p at 30 fps: the default ladder, plain and low-latency. */
const LADDER_720: ProfileSpec["renditions"] = [
  {
    name: "720p",
    codec: "h264",
    width: 1280,
    height: 720,
    fps: 30,
    bitrateKbps: 2800,
    preset: "veryfast",
  },
  {
    name: "480p",
    codec: "h264",
    width: 854,
    height: 480,
    fps: 30,
    bitrateKbps: 1400,
    preset: "veryfast",
  },
  { name: "360p", codec: "h264", width: 640, height: 360, fps: 30, bitrateKbps: 800, preset: "veryfast" },
];

export const BUILTIN_PROFILES: Record<string, ProfileSpec> = {
  "builtin-passthrough": {
    name: "Passthrough",
    description: "Source video and audio repackaged without re-encoding",
    renditions: [{ name: "source", codec: "copy" }],
    audio: { codec: "copy" },
    segmentDuration: 2,
    windowSize: 6,
    formats: ["hls", "dash"],
    container: "fmp4",
  },
  "builtin-360p": {
    name: "360p",
    description: "One 640x360 rendition",
    renditions: [
      { name: "360p", codec: "h264", width: 640, height: 360, fps: 30, bitrateKbps: 800, preset: "veryfast" },
    ],
    audio: { ...AAC, bitrateKbps: 96 },
    segmentDuration: 2,
    windowSize: 6,
    formats: ["hls", "dash"],
    container: "fmp4",
  },
  "builtin-720p": {
    name: "720p ladder",
    description: "720p, 480p and 360p",
    renditions: LADDER_720,
    audio: AAC,
    segmentDuration: 2,
    windowSize: 6,
    formats: ["hls", "dash"],
    container: "fmp4",
  },
  "builtin-1080p": {
    name: "1080p ladder",
    description: "1080p, 720p, 480p and 360p",
    renditions: [
      {
        name: "1080p",
        codec: "h264",
        width: 1920,
        height: 1080,
        fps: 30,
        bitrateKbps: 5000,
        preset: "veryfast",
      },
      {
        name: "720p",
        codec: "h264",
        width: 1280,
        height: 720,
        fps: 30,
        bitrateKbps: 2800,
        preset: "veryfast",
      },
      {
        name: "480p",
        codec: "h264",
        width: 854,
        height: 480,
        fps: 30,
        bitrateKbps: 1400,
        preset: "veryfast",
      },
      { name: "360p", codec: "h264", width: 640, height: 360, fps: 30, bitrateKbps: 800, preset: "veryfast" },
    ],
    audio: AAC,
    segmentDuration: 2,
    windowSize: 6,
    formats: ["hls", "dash"],
    container: "fmp4",
  },
  "builtin-720p-ll": {
    name: "720p ladder, low latency",
    description: "720p, 480p and 360p as LL-HLS and LL-DASH: 1 s segments of 0.5 s parts",
    renditions: LADDER_720,
    audio: AAC,
    segmentDuration: 1,
    partDuration: 0.5,
    windowSize: 6,
    formats: ["ll-hls", "dash"],
    container: "fmp4",
  },
  "builtin-audio": {
    name: "Audio only",
    description: "AAC audio ladder, no video",
    renditions: [],
    audio: AAC,
    segmentDuration: 2,
    windowSize: 6,
    formats: ["hls", "dash"],
    container: "fmp4",
  },
};

export const DEFAULT_PROFILE_ID = "builtin-720p";
