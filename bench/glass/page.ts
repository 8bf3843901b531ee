/**
 * The viewer page of the glass-to-glass bench (bundled for the browser by bench/glass/serve.ts):
 * plays `window.GLASS.url` with hls.js or dash.js, and in `requestVideoFrameCallback` draws the
 * stamp band of each displayed frame into a canvas, decodes it (bench/glass/stamp.ts) and keeps
 * (display time − stamp) with the frame's height. Display time is the page's wall clock at the
 * frame's expected display time: Date.now() + (expectedDisplayTime − performance.now()).
 * Results accumulate in `window.glassOut`; the driver reads them.
 */
import { BAND, CANVAS_H, CANVAS_W, decodeRgba, unwrap } from "./stamp.ts";

export interface PageConfig {
  player: "hls" | "dash";
  url: string;
  hls?: Record<string, unknown>;
  dash?: Record<string, unknown>;
}

export interface PageOut {
  /** [display wall ms, glass-to-glass ms, height] per decoded frame. */
  frames: [number, number, number][];
  /** Frames whose stamp failed its check, by height. */
  undecoded: Record<string, number>;
  firstFrameAt: number;
  /** Stalls after the first frame: [start wall ms, duration ms]. */
  stalls: [number, number][];
  errors: string[];
  switches: { at: number; height: number }[];
  levels: number[];
  dropped: number;
  total: number;
  /** What the player was told about the stream (LL-HLS part target, DASH low latency). */
  info: Record<string, unknown>;
}

interface HlsLevel {
  height: number;
  details?: { partTarget?: number; partList?: unknown[] | null };
}
interface HlsLike {
  levels: HlsLevel[];
  currentLevel: number;
  lowLatencyMode: boolean;
  latency: number;
  on(event: string, cb: (e: string, d: Record<string, unknown>) => void): void;
  loadSource(url: string): void;
  attachMedia(v: HTMLVideoElement): void;
}
interface DashPlayer {
  initialize(v: HTMLVideoElement, url: string, autoplay: boolean): void;
  updateSettings(s: Record<string, unknown>): void;
  on(event: string, cb: (e: Record<string, unknown>) => void): void;
  getCurrentLiveLatency(): number;
  getLowLatencyModeEnabled(): boolean;
}
declare global {
  interface Window {
    GLASS: PageConfig;
    glassOut: PageOut;
    Hls: { new (config: Record<string, unknown>): HlsLike; Events: Record<string, string> };
    dashjs: { MediaPlayer(): { create(): DashPlayer } };
  }
}

const cfg = window.GLASS;
const out: PageOut = {
  frames: [],
  undecoded: {},
  firstFrameAt: 0,
  stalls: [],
  errors: [],
  switches: [],
  levels: [],
  dropped: 0,
  total: 0,
  info: {},
};
window.glassOut = out;

const video = document.createElement("video");
video.muted = true;
video.autoplay = true;
video.playsInline = true;
document.body.append(video);
const canvas = document.createElement("canvas");
canvas.width = CANVAS_W;
canvas.height = CANVAS_H;
const ctx = canvas.getContext("2d", { willReadFrequently: true }) as CanvasRenderingContext2D;

let stallFrom = 0;
video.addEventListener("waiting", () => {
  if (out.firstFrameAt && !stallFrom) stallFrom = Date.now();
});
const endStall = () => {
  if (stallFrom) out.stalls.push([stallFrom, Date.now() - stallFrom]);
  stallFrom = 0;
};
video.addEventListener("playing", endStall);

function onFrame(_now: number, meta: VideoFrameCallbackMetadata) {
  const shown = Date.now() + (meta.expectedDisplayTime - performance.now());
  const h = video.videoHeight;
  if (!out.firstFrameAt) out.firstFrameAt = shown;
  endStall();
  if (h > 0) {
    ctx.drawImage(video, 0, 0, video.videoWidth, h * BAND, 0, 0, CANVAS_W, CANVAS_H);
    const v = decodeRgba(ctx.getImageData(0, 0, CANVAS_W, CANVAS_H).data, CANVAS_W, CANVAS_H);
    if (v === undefined) out.undecoded[h] = (out.undecoded[h] ?? 0) + 1;
    else out.frames.push([Math.round(shown), Math.round(shown - unwrap(v, shown)), h]);
  }
  const q = video.getVideoPlaybackQuality();
  out.dropped = q.droppedVideoFrames;
  out.total = q.totalVideoFrames;
  video.requestVideoFrameCallback(onFrame);
}
video.requestVideoFrameCallback(onFrame);

if (cfg.player === "hls") {
  const hls = new window.Hls(cfg.hls ?? {});
  const E = window.Hls.Events;
  hls.on(E.ERROR as string, (_e, d) => out.errors.push(`${d.fatal ? "FATAL " : ""}${String(d.details)}`));
  hls.on(E.MANIFEST_PARSED as string, () => {
    out.levels = hls.levels.map((l) => l.height);
  });
  hls.on(E.LEVEL_SWITCHED as string, (_e, d) => {
    out.switches.push({ at: Date.now(), height: hls.levels[d.level as number]?.height ?? 0 });
  });
  hls.on(E.LEVEL_LOADED as string, (_e, d) => {
    const det = d.details as { partTarget?: number; partList?: unknown[] | null; canBlockReload?: boolean };
    out.info = {
      lowLatencyMode: hls.lowLatencyMode,
      partTarget: det.partTarget ?? 0,
      parts: det.partList?.length ?? 0,
      canBlockReload: det.canBlockReload ?? false,
    };
  });
  hls.loadSource(cfg.url);
  hls.attachMedia(video);
} else {
  const player = window.dashjs.MediaPlayer().create();
  player.updateSettings(cfg.dash ?? {});
  player.on("error", (e) => {
    const err = e.error as { code?: number; message?: string } | undefined;
    out.errors.push(`dash ${err?.code ?? ""} ${err?.message ?? JSON.stringify(e).slice(0, 200)}`);
  });
  player.on("qualityChangeRendered", (e) => {
    if (e.mediaType === "video") out.switches.push({ at: Date.now(), height: video.videoHeight });
  });
  player.initialize(video, cfg.url, true);
  // dash.js 4.7 turns its low-latency mode on by itself for availabilityTimeComplete="false".
  setInterval(() => {
    try {
      out.info = {
        lowLatency: player.getLowLatencyModeEnabled(),
        liveLatency: player.getCurrentLiveLatency(),
      };
    } catch {
      // not initialised yet
    }
  }, 1000);
}
