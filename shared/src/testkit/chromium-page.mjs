// Runs a player page in headless Chromium (playwright-core, under node >= 20) for the browser
// tests and the bench: the page and one player library are served from 127.0.0.1, the page plays
// for `seconds`, then `collect` is evaluated in it and its result returned.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * @param {{ libs: string, chromiumPath: string, lib: string, body: string, seconds: number,
 *   collect: () => unknown }} o  `lib` relative to `libs` (a node_modules folder); `body` is the
 *   page's markup after `<script src="/lib.js">`.
 */
export async function playInChromium(o) {
  const { chromium } = await import(pathToFileURL(join(o.libs, "playwright-core/index.mjs")).href);
  const lib = readFileSync(join(o.libs, o.lib));
  const page = `<!doctype html><video id=v muted autoplay playsinline></video><script src="/lib.js"></script>${o.body}`;
  const srv = createServer((q, r) => {
    r.setHeader("content-type", q.url === "/lib.js" ? "text/javascript" : "text/html");
    r.end(q.url === "/lib.js" ? lib : page);
  });
  await new Promise((res) => srv.listen(0, "127.0.0.1", res));
  const b = await chromium.launch({
    executablePath: o.chromiumPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"],
  });
  try {
    const pg = await b.newPage();
    await pg.goto(`http://127.0.0.1:${srv.address().port}/`);
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    return await pg.evaluate(o.collect);
  } finally {
    await b.close();
    srv.close();
  }
}
