/**
 * `./dionysia demo`: pushes a 720p test pattern with a tone into the default stream of a running
 * `./dionysia up`, shows progress, and prints the playback URL once the ladder is being served.
 */
import { join, resolve } from "node:path";
import { waitFor } from "../shared/src/testkit/index.ts";
import { loadDevState } from "./lib/devstate.ts";
import { readRunning } from "./lib/running.ts";
import { ROOT } from "./platform.ts";

const dataDir = resolve(process.env.DIONYSIA_DATA ?? join(ROOT, "data"));
const state = loadDevState(join(dataDir, "dev.json"));
if (!state?.demo || !state.ports || !readRunning(dataDir)) {
  console.error(
    `No running platform found in ${dataDir}: start it first with ./dionysia up (in another terminal).`,
  );
  process.exit(1);
}
const host = process.env.DIONYSIA_HOST ?? "127.0.0.1";
const seconds = Number(process.env.DEMO_SECONDS ?? 0);
const target = `rtmp://${host}:${state.ports.rtmp}/live/${state.demo.streamKey}`;
const playback = `http://${host}:${state.ports.router}/live/${state.demo.id}/master.m3u8`;

const args = [
  "-hide_banner",
  "-loglevel",
  "error",
  "-nostats",
  "-progress",
  "pipe:1",
  "-re",
  "-f",
  "lavfi",
  "-i",
  "testsrc2=size=1280x720:rate=30",
  "-re",
  "-f",
  "lavfi",
  "-i",
  "sine=frequency=440:sample_rate=48000",
  ...(seconds > 0 ? ["-t", String(seconds)] : []),
  "-c:v",
  "libx264",
  "-preset",
  "veryfast",
  "-tune",
  "zerolatency",
  "-g",
  "60",
  "-b:v",
  "3000k",
  "-c:a",
  "aac",
  "-b:a",
  "128k",
  "-f",
  "flv",
  target,
];
console.log(
  `pushing a 1280x720 test pattern to rtmp://${host}:${state.ports.rtmp}/live/<key>  (Ctrl-C to stop)`,
);
const ff = Bun.spawn(["ffmpeg", ...args], { stdout: "pipe", stderr: "inherit" });
process.on("SIGINT", () => ff.kill("SIGINT"));

void (async () => {
  let frame = "0";
  let speed = "";
  const decoder = new TextDecoder();
  for await (const chunk of ff.stdout as ReadableStream<Uint8Array>) {
    for (const line of decoder.decode(chunk).split("\n")) {
      const [k, v] = line.split("=");
      if (k === "frame") frame = v ?? frame;
      if (k === "speed") speed = v ?? speed;
      if (k === "progress") process.stdout.write(`\r  pushed ${frame} frames (${speed.trim()})      `);
    }
  }
})();

void waitFor(
  "the master playlist through the router",
  async () => {
    const res = await fetch(playback, { signal: AbortSignal.timeout(2000) });
    return res.ok ? res : undefined;
  },
  60_000,
  500,
).then(
  () =>
    console.log(`\n\x1b[1mLive.\x1b[0m Watch: ffplay ${playback}   (or open it in Safari / VLC / hls.js)`),
  (err) => console.error(`\n${(err as Error).message}`),
);

const code = await ff.exited;
console.log(`\nffmpeg exited with ${code}`);
process.exit(code === 255 ? 0 : code);
