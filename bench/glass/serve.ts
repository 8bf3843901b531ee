/**
 * What the browser side of the glass bench needs: the viewer page (bench/glass/page.ts bundled for
 * the browser) with hls.js and dash.js from node_modules, served by Bun on 127.0.0.1; and the
 * playwright driver (bench/glass/viewer.ts bundled for node), run once per viewer.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PageConfig } from "./page.ts";
import type { ViewerConfig, ViewerOut } from "./viewer.ts";

export interface ViewerKit {
  pageUrl(c: PageConfig): string;
  view(c: PageConfig, seconds: number): Promise<ViewerOut>;
  stop(): void;
}

async function bundle(entry: string, target: "browser" | "node", outdir: string): Promise<string> {
  const r = await Bun.build({
    entrypoints: [join(import.meta.dir, entry)],
    target,
    format: "esm",
    outdir,
    naming: "[name].mjs",
  });
  if (!r.success) throw new Error(`bundle ${entry}: ${r.logs.join("\n")}`);
  return r.outputs[0]?.path as string;
}

export async function startViewerKit(o: {
  libs: string;
  chromium: string;
  node: string;
}): Promise<ViewerKit> {
  const dir = mkdtempSync(join(tmpdir(), "dionysia-bench-glass-"));
  const pageJs = await bundle("page.ts", "browser", join(dir, "page"));
  const driver = await bundle("viewer.ts", "node", join(dir, "driver"));
  const files: Record<string, string> = {
    "/page.js": pageJs,
    "/hls.js": join(o.libs, "hls.js/dist/hls.min.js"),
    "/dash.js": join(o.libs, "dashjs/dist/dash.all.min.js"),
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const u = new URL(req.url);
      const file = files[u.pathname];
      if (file) return new Response(Bun.file(file), { headers: { "content-type": "text/javascript" } });
      const cfg = u.searchParams.get("c") ?? "{}";
      const lib = (JSON.parse(cfg) as PageConfig).player === "dash" ? "/dash.js" : "/hls.js";
      const html = `<!doctype html><meta charset=utf-8><body style="margin:0;background:#000">
<script>window.GLASS=${cfg};</script><script src="${lib}"></script><script type=module src="/page.js"></script>`;
      return new Response(html, { headers: { "content-type": "text/html" } });
    },
  });
  const pageUrl = (c: PageConfig) =>
    `http://127.0.0.1:${server.port}/?c=${encodeURIComponent(JSON.stringify(c))}`;
  return {
    pageUrl,
    async view(c, seconds) {
      const vc: ViewerConfig = {
        pageUrl: pageUrl(c),
        libs: o.libs,
        chromium: o.chromium,
        seconds,
        firstFrameTimeoutS: 40,
      };
      const child = Bun.spawn([o.node, driver, JSON.stringify(vc)], { stdout: "pipe", stderr: "pipe" });
      const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 90) * 1000);
      const [stdout, stderr] = [
        await new Response(child.stdout).text(),
        await new Response(child.stderr).text(),
      ];
      await child.exited;
      clearTimeout(timer);
      const last = stdout.trim().split("\n").pop() ?? "";
      if (!last.startsWith("{")) throw new Error(`viewer exited ${child.exitCode}:\n${stderr}\n${stdout}`);
      return JSON.parse(last) as ViewerOut;
    },
    stop() {
      server.stop(true);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
