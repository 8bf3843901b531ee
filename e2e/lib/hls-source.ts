/**
 * A live HLS source for pull-input tests: ffmpeg writes a sliding-window HLS test pattern and a
 * small HTTP server serves it, so any number of origins can pull it (also after a failover).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { testPatternArgs, waitFor } from "../../shared/src/testkit/index.ts";

export interface HlsSource {
  url: string;
  stop(): Promise<void>;
}

export async function startHlsSource(
  opts: { size?: string; rate?: number; hostname?: string } = {},
): Promise<HlsSource> {
  const dir = mkdtempSync(join(tmpdir(), "dionysia-hls-src-"));
  const size = opts.size ?? "320x180";
  const rate = opts.rate ?? 15;
  const ff = Bun.spawn(
    [
      "ffmpeg",
      ...testPatternArgs({ size, rate }),
      "-f",
      "hls",
      "-hls_time",
      "1",
      "-hls_list_size",
      "6",
      "-hls_flags",
      "delete_segments+independent_segments",
      join(dir, "index.m3u8"),
    ],
    { stdout: "ignore", stderr: "inherit" },
  );
  const server = Bun.serve({
    hostname: opts.hostname ?? "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = normalize(decodeURIComponent(new URL(req.url).pathname)).replace(/^\/+/, "");
      if (path.includes("..") || !/^[\w.-]+$/.test(path)) return new Response("bad path", { status: 400 });
      return new Response(Bun.file(join(dir, path)));
    },
    error: () => new Response("not found", { status: 404 }),
  });
  const url = `http://${opts.hostname ?? "127.0.0.1"}:${server.port}/index.m3u8`;
  await waitFor("the HLS source playlist", async () => (await fetch(url)).ok, 20_000, 200);
  return {
    url,
    async stop() {
      ff.kill("SIGTERM");
      await ff.exited;
      server.stop(true);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
