/**
 * The browser driver of the glass-to-glass bench, run by node (playwright-core needs node ≥ 20;
 * bench/glass/serve.ts bundles this file for node): Debian's Chromium, headless, the network beyond
 * 127.0.0.1 cut off; opens the page, waits for its first decoded frame, records `seconds` from
 * there, and prints one JSON line: the page's results and every request in the window.
 *   node viewer.mjs '<json ViewerConfig>'
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, Page } from "playwright-core";
import type { PageOut } from "./page.ts";

export interface ViewerConfig {
  pageUrl: string;
  libs: string;
  chromium: string;
  seconds: number;
  firstFrameTimeoutS: number;
}

export interface ViewerOut {
  page?: PageOut;
  /** Requests from the first frame on: [wall ms, url]. */
  requests: [number, string][];
  windowFrom: number;
  windowTo: number;
  opened: number;
  external: string[];
  error?: string;
}

const cfg = JSON.parse(process.argv[2] ?? "{}") as ViewerConfig;
const pw = (await import(
  pathToFileURL(join(cfg.libs, "playwright-core/index.mjs")).href
)) as typeof import("playwright-core");
const out: ViewerOut = { requests: [], windowFrom: 0, windowTo: 0, opened: 0, external: [] };
const all: [number, string][] = [];
let browser: Browser | undefined;
let page: Page | undefined;
try {
  browser = await pw.chromium.launch({
    executablePath: cfg.chromium,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"],
  });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  await ctx.route("**/*", (route) => {
    const u = new URL(route.request().url());
    if (u.hostname !== "127.0.0.1") {
      out.external.push(u.href);
      return route.abort();
    }
    return route.continue();
  });
  page = await ctx.newPage();
  page.on("request", (r) => {
    all.push([Date.now(), r.url()]);
  });
  page.on("pageerror", (e) => {
    out.error = `pageerror: ${e.message}`;
  });
  out.opened = Date.now();
  await page.goto(cfg.pageUrl);
  await page.waitForFunction(() => window.glassOut?.frames.length > 0, undefined, {
    timeout: cfg.firstFrameTimeoutS * 1000,
    polling: 100,
  });
  out.windowFrom = Date.now();
  await page.waitForTimeout(cfg.seconds * 1000);
  out.windowTo = Date.now();
} catch (err) {
  out.error = String((err as Error)?.stack ?? err);
} finally {
  out.page = await page?.evaluate(() => window.glassOut).catch(() => undefined);
  await browser?.close().catch(() => {});
}
out.requests = all.filter(([t]) => t >= out.windowFrom && t <= (out.windowTo || Date.now()));
console.log(JSON.stringify(out));
