/** UDP ports for SRT listeners: free-port checks, the range fallback, orphans of a killed origin. */
import { createSocket } from "node:dgram";
import { orphanPids } from "../../process/orphans.ts";

/** True when a UDP socket can bind the port right now (nothing else listens there). */
export function udpPortFree(port: number, host = "0.0.0.0"): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    s.once("error", () => {
      s.close();
      resolve(false);
    });
    s.bind(port, host, () => {
      s.close(() => resolve(true));
    });
  });
}

/** First port of the range that is neither reserved by us nor bound by anyone else. */
export async function pickUdpPort(
  range: { from: number; to: number },
  reserved: Set<number>,
  host = "0.0.0.0",
): Promise<number | undefined> {
  for (let p = range.from; p <= range.to; p++) {
    if (reserved.has(p)) continue;
    if (await udpPortFree(p, host)) return p;
  }
  return undefined;
}

const INTERNAL_OUTPUT = /^rtmp:\/\/127\.0\.0\.1:\d+\/internal\//;

/**
 * Pids of orphaned SRT listeners of an embedded server on this UDP port: ffmpeg processes with our
 * listener arguments (srtListenerArgs: `srt://…:{port}?…mode=listener`, output to an `internal/`
 * RTMP path) whose parent is gone (reparented to pid 1 or to a non-Bun subreaper). A killed origin
 * leaves these behind holding the stream's port; a live origin's listeners are never matched.
 * Linux /proc only; elsewhere (or unreadable) none.
 */
export async function orphanSrtListeners(port: number): Promise<number[]> {
  const input = new RegExp(`^srt://[^/?]*:${port}\\?(.*&)?mode=listener(&|$)`);
  return orphanPids(
    (argv) =>
      !!argv[0]?.includes("ffmpeg") &&
      argv.some((a) => input.test(a)) &&
      argv.some((a) => INTERNAL_OUTPUT.test(a)),
  );
}
