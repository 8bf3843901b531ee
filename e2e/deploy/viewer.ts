/**
 * The outside world of the deploy test: control's API as an operator calls it, and a publisher
 * and a viewer that run the controller's ffmpeg and ffprobe inside a namespace of their own
 * (not a deployed host's), resolving the deployed hosts' names as DNS would.
 */
import { testPatternArgs } from "../../shared/src/testkit/index.ts";
import type { TestHost } from "./hosts.ts";

export function controlApi(control: TestHost, adminKey: string) {
  return async <T>(
    path: string,
    init: { method?: string; json?: unknown } = {},
  ): Promise<{ status: number; body: T }> => {
    const res = await fetch(`http://${control.address}:8080${path}`, {
      method: init.method ?? "GET",
      headers: {
        authorization: `Bearer ${adminKey}`,
        ...(init.json === undefined ? {} : { "content-type": "application/json" }),
      },
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
}

export interface Publisher {
  stop(): Promise<void>;
  exited: Promise<number>;
  stderr(): string;
}

/** The test pattern pushed from `from`'s namespace to `url` (rtmp://name:port/live/key). */
export function publishFrom(from: TestHost, url: string): Publisher {
  const p = Bun.spawn(
    [
      "ip",
      "netns",
      "exec",
      from.netns,
      "ffmpeg",
      ...testPatternArgs({ size: "320x180", rate: 15 }),
      "-f",
      "flv",
      url,
    ],
    { stdin: "ignore", stdout: "ignore", stderr: "pipe" },
  );
  let err = "";
  void (async () => {
    for await (const c of p.stderr as ReadableStream<Uint8Array>)
      if (err.length < 8000) err += Buffer.from(c).toString();
  })();
  return {
    exited: p.exited,
    stderr: () => err,
    async stop() {
      p.kill("SIGTERM");
      await p.exited;
    },
  };
}

export interface Probed {
  code: number;
  streams: { codec_type?: string; codec_name?: string; height?: number }[];
  stderr: string;
}

/** ffprobe of `url` from `from`'s namespace (it follows the router's redirect like a player). */
export async function probeFrom(from: TestHost, url: string, seconds = 2): Promise<Probed> {
  const p = Bun.spawn(
    [
      "ip",
      "netns",
      "exec",
      from.netns,
      "ffprobe",
      "-v",
      "error",
      "-rw_timeout",
      "10000000",
      "-read_intervals",
      `%+${seconds}`,
      "-show_streams",
      "-of",
      "json",
      url,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  const streams = code === 0 ? ((JSON.parse(out) as { streams?: Probed["streams"] }).streams ?? []) : [];
  return { code, streams, stderr: err };
}
