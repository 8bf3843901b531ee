/**
 * /swagger and /console work without internet: neither page, nor anything they load (scripts,
 * styles, transitively), references a host but control's own (ADR 0075, 0076). The browser test
 * (e2e/test/console.test.ts) also checks what Chromium actually requests.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startControl, type TestControl } from "./helpers/control.ts";
import { crawl, embeddedCssUrls, isLocal, references } from "./helpers/references.ts";

describe("offline pages", () => {
  let c: TestControl;
  beforeAll(async () => {
    c = await startControl();
  });
  afterAll(() => c?.stop());

  test("the reference finder sees what a CDN page loads (so a clean result means something)", () => {
    const html = `<html><head><link rel="stylesheet" href="https://unpkg.com/x.css"><style>@font-face{src:url(https://fonts.example/a.woff2)}</style></head>
<body><img srcset="/a.png 1x, //cdn.example/b.png 2x"><script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@latest"></script><a href="#top">x</a></body></html>`;
    const refs = references("html", html);
    expect(refs.filter((r) => !isLocal(r, "http://127.0.0.1:1/swagger"))).toEqual([
      "https://unpkg.com/x.css",
      "https://cdn.jsdelivr.net/npm/@scalar/api-reference@latest",
      "//cdn.example/b.png",
      "https://fonts.example/a.woff2",
    ]);
    expect(references("css", `@import "https://x.example/a.css"; a{background:url('/i.png')}`)).toEqual([
      "/i.png",
      "https://x.example/a.css",
    ]);
    expect(
      references(
        "js",
        `import a from"https://esm.sh/a";export*from'./b.js';const m=await import("https://c.example/m.js")`,
      ),
    ).toEqual(["https://esm.sh/a", "./b.js", "https://c.example/m.js"]);
    expect(embeddedCssUrls("const css=`@font-face{src:url(https://f.example/x.woff2)}`;u=url(e)")).toEqual([
      "https://f.example/x.woff2",
    ]);
  });

  test("/swagger loads Scalar from control itself, pinned, and nothing from elsewhere", async () => {
    const r = await crawl([`${c.url}/swagger`]);
    expect(r.external).toEqual([]);
    // Scalar's script carries @font-face rules for fonts.scalar.com, injected only with its
    // default fonts on; the page turns them off (and the browser test sees no such request).
    expect(r.embedded.length).toBeGreaterThan(0);
    for (const e of r.embedded) expect(e).toMatch(/ -> https:\/\/fonts\.scalar\.com\//);
    const html = await (await fetch(`${c.url}/swagger`)).text();
    expect(html).toContain('"withDefaultFonts":false');
    expect(r.fetched).toContain(`${c.url}/swagger/assets/scalar.js`);
    const js = await fetch(`${c.url}/swagger/assets/scalar.js`);
    expect(js.headers.get("content-type")).toContain("javascript");
    // The bundle is the version control/package.json pins (exact, no range).
    const pinned = (await Bun.file(join(import.meta.dir, "../package.json")).json()).devDependencies[
      "@scalar/api-reference"
    ] as string;
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(await js.text()).toContain(`@scalar/api-reference@${pinned}`);
    // The page still serves the document it renders.
    expect((await c.api("GET", "/swagger/json", { key: null })).status).toBe(200);
  });

  test("/console and its bundle reference only control, under a same-origin CSP", async () => {
    const r = await crawl([`${c.url}/console`, `${c.url}/console/`]);
    expect(r.external).toEqual([]);
    expect(r.embedded).toEqual([]);
    // The page, its script and style, and the player's chunk that the script imports.
    const assets = r.fetched.filter((u) => u.includes("/console/assets/")).map((u) => u.replace(/^.*\//, ""));
    expect(assets.map((a) => a.replace(/-\w+\./, "."))).toEqual(
      expect.arrayContaining(["main.js", "main.css", "player.js"]),
    );
    const main = await fetch(
      `${c.url}/console/assets/${assets.find((a) => a.startsWith("main-") && a.endsWith(".js"))}`,
    );
    expect(main.headers.get("cache-control")).toContain("immutable");
    const page = await fetch(`${c.url}/console`);
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("font-src 'self'");
    expect((await fetch(`${c.url}/console/assets/nope.js`)).status).toBe(404);
  });

  test("the API key never has to travel in a URL: the console signs in with a bearer header", async () => {
    const html = await (await fetch(`${c.url}/console`)).text();
    const src = /src="([^"]+main-\w+\.js)"/.exec(html)?.[1];
    const js = await (await fetch(`${c.url}${src}`)).text();
    expect(js).toContain("sessionStorage");
    expect(js).not.toMatch(/[?&](api_?key|key|token)=\$\{/i);
  });
});
