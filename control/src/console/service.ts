/**
 * The console's browser bundle (ADR 0076): built from control/console/ with Bun's bundler inside
 * control, once, on the first request, and kept in memory. Nothing is fetched from a CDN and no
 * build output has to be shipped or kept in step with the sources.
 */
import { join, resolve } from "node:path";
import type { Logger } from "@dionysia/shared";

export const CONSOLE_DIR = resolve(import.meta.dir, "../../console");

export interface ConsoleAsset {
  body: ArrayBuffer;
  type: string;
}

export interface ConsoleBundle {
  html: string;
  /** By file name, as the page references them under /console/assets/. */
  assets: Map<string, ConsoleAsset>;
}

async function build(log: Logger): Promise<ConsoleBundle> {
  const started = performance.now();
  const out = await Bun.build({
    entrypoints: [join(CONSOLE_DIR, "src/main.ts")],
    target: "browser",
    minify: true,
    // The player's chunk (hls.js, dash.js) loads only when a player is opened.
    splitting: true,
    // Content-hashed names: the page names this build's files, which can then be cached forever.
    naming: { entry: "[name]-[hash].[ext]", asset: "[name]-[hash].[ext]", chunk: "[name]-[hash].[ext]" },
    define: { "process.env.NODE_ENV": '"production"' },
  });
  if (!out.success) throw new AggregateError(out.logs, "console build failed");
  const assets = new Map<string, ConsoleAsset>();
  let html = await Bun.file(join(CONSOLE_DIR, "index.html")).text();
  for (const o of out.outputs) {
    const name = o.path.replace(/^.*\//, "");
    assets.set(name, { body: await o.arrayBuffer(), type: o.type });
    // index.html names the entry's files without their hash (main.js, main.css).
    const plain = name.replace(/-[a-z0-9]+\.(js|css)$/, ".$1");
    if (o.kind === "entry-point" || (o.kind === "asset" && plain === "main.css"))
      html = html.replace(`/console/assets/${plain}`, `/console/assets/${name}`);
  }
  log.info(
    { ms: Math.round(performance.now() - started), files: [...assets.keys()] },
    "console bundle built",
  );
  return { html, assets };
}

let pending: Promise<ConsoleBundle> | undefined;

/** One build per process; a failed build is retried on the next request. */
export function consoleBundle(log: Logger): Promise<ConsoleBundle> {
  pending ??= build(log).catch((err) => {
    pending = undefined;
    throw err;
  });
  return pending;
}
