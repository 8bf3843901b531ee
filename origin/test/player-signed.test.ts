/**
 * hls.js and dash.js in headless Chromium play signed streams from the tokenised URL through the
 * real router handler and origin (ADR 0060); hls.js switches rungs. Needs node, Chromium and the
 * player libraries (PLAYER_LIBS_DIR: a node_modules with playwright-core, hls.js, dashjs); skips
 * with a message otherwise.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signPlaybackToken } from "@dionysia/shared";
import { playwrightNode, reportSkip } from "@dionysia/shared/testkit";
import { execa } from "execa";
import { type SignedStack, startSignedStack } from "./helpers/signed-stack.ts";

// The players are the repository's own devDependencies; Chromium is Debian's (the launcher installs it).
const LIBS = process.env.PLAYER_LIBS_DIR ?? join(import.meta.dir, "../../node_modules");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const missing = [
  ["node 20+", playwrightNode()],
  ["ffmpeg", Bun.which("ffmpeg")],
  ["chromium", existsSync(CHROMIUM) ? CHROMIUM : null],
  ["playwright-core", existsSync(join(LIBS, "playwright-core")) ? LIBS : null],
  ["hls.js", existsSync(join(LIBS, "hls.js")) ? LIBS : null],
  ["dashjs", existsSync(join(LIBS, "dashjs")) ? LIBS : null],
]
  .filter(([, v]) => !v)
  .map(([k]) => k);
if (missing.length)
  reportSkip(
    "origin/test/player-signed.test.ts (hls.js and dash.js in Chromium)",
    `missing ${missing.join(", ")} (apt-get install chromium; PLAYER_LIBS_DIR / CHROMIUM override)`,
  );

interface Played {
  first: { t: number; height: number };
  after: { t: number; height: number; log: string[]; switched: number[]; frags: number };
}

async function play(kind: "hls" | "dash", url: string): Promise<Played> {
  const r = await execa(
    "node",
    [join(import.meta.dir, "fixtures/play-signed.mjs"), kind, url, LIBS, CHROMIUM],
    {
      timeout: 60_000,
      reject: false,
    },
  );
  if (r.exitCode !== 0) throw new Error(`player: ${r.stderr}`);
  return JSON.parse(String(r.stdout).trim().split("\n").pop() as string) as Played;
}

describe.skipIf(missing.length > 0)("players in Chromium on signed streams", () => {
  let dir: string;
  let stack: SignedStack | undefined;
  let hlsUrl: string;
  let dashUrl: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "origin-players-"));
    const hls = join(dir, "live/hls1");
    const dash = join(dir, "live/dash1");
    mkdirSync(hls, { recursive: true });
    mkdirSync(dash, { recursive: true });
    const src = [
      "-v",
      "error",
      "-f",
      "lavfi",
      "-i",
      "testsrc=size=640x360:rate=25",
      "-t",
      "20",
      "-pix_fmt",
      "yuv420p",
    ];
    const x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25"];
    await execa(
      "ffmpeg",
      [
        ...src,
        ...["-map", "0:v", "-map", "0:v", ...x264, "-s:v:1", "320x180", "-b:v:0", "800k", "-b:v:1", "200k"],
        ...["-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4"],
        ...["-var_stream_map", "v:0 v:1", "-hls_segment_filename", "v%v/seg-%03d.m4s", "v%v/index.m3u8"],
      ],
      { cwd: hls },
    );
    writeFileSync(
      join(hls, "master.m3u8"),
      "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360\nv0/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=250000,RESOLUTION=320x180\nv1/index.m3u8\n",
    );
    await execa("ffmpeg", [...src, ...x264, "-f", "dash", "-seg_duration", "1", "manifest.mpd"], {
      cwd: dash,
    });
    stack = await startSignedStack(dir, ["hls1", "dash1"], "ES256", "k");
    const { key, router } = stack;
    const exp = Math.floor(Date.now() / 1000) + 600;
    const base = `http://127.0.0.1:${router.port}/live`;
    hlsUrl = `${base}/hls1/master.m3u8?token=${await signPlaybackToken(key, { sub: "hls1", exp })}`;
    dashUrl = `${base}/dash1/manifest.mpd?token=${await signPlaybackToken(key, { sub: "dash1", exp })}`;
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("hls.js plays from the tokenised master URL and switches rungs; without the token it is refused", async () => {
    const p = await play("hls", hlsUrl);
    expect(p.after.log).toEqual([]);
    expect(p.first.t).toBeGreaterThan(0);
    expect(p.after.t).toBeGreaterThan(p.first.t + 1);
    // The forced switch: both heights were played, and the last one is what the video shows.
    expect(new Set(p.after.switched)).toEqual(new Set([360, 180]));
    expect(p.after.height).toBe(p.after.switched.at(-1) as number);
    expect(p.after.frags).toBeGreaterThan(4);
    const refused = await play("hls", hlsUrl.slice(0, hlsUrl.indexOf("?")));
    expect(refused.after.log).toEqual(["FATAL manifestLoadError 401"]);
    expect(refused.after.t).toBe(0);
  }, 120_000);

  test("dash.js plays from the tokenised manifest URL", async () => {
    const p = await play("dash", dashUrl);
    expect(p.after.log).toEqual([]);
    expect(p.after.t).toBeGreaterThan(p.first.t + 1);
    expect(p.after.height).toBe(360);
    expect(p.after.frags).toBeGreaterThan(4);
  }, 120_000);
});
