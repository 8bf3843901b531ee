// Plays a DASH manifest in headless Chromium with dash.js and reports what the player did: errors
// (code and message), the height played, latency samples, the live delay target it took.
// node play-dash.mjs <mpd url> <node_modules dir> <chromium> <seconds> [dash.js settings JSON]
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [url, libs, chromiumPath, seconds, settingsJson] = process.argv.slice(2);
const { chromium } = await import(pathToFileURL(join(libs, "playwright-core/index.mjs")).href);
const lib = readFileSync(join(libs, "dashjs/dist/dash.all.min.js"));
const page = `<!doctype html><video id=v muted autoplay playsinline></video><script src="/lib.js"></script><script>
window.errors=[];window.samples=[];window.heights=[];
const v=document.getElementById('v');
const p=dashjs.MediaPlayer().create();window.p=p;
p.updateSettings(${settingsJson || "{}"});
p.on(dashjs.MediaPlayer.events.ERROR,(e)=>errors.push(String(e.error?.code??'')+' '+String(e.error?.message??e.error??'').slice(0,120)));
setInterval(()=>{const l=p.getCurrentLiveLatency();if(l>0&&!v.paused)samples.push(l);if(v.videoHeight)heights.push(v.videoHeight)},250);
p.initialize(v,${JSON.stringify(url)},true);</script>`;
const srv = createServer((q, r) => {
  r.setHeader("content-type", q.url === "/lib.js" ? "text/javascript" : "text/html");
  r.end(q.url === "/lib.js" ? lib : page);
});
await new Promise((res) => srv.listen(0, "127.0.0.1", res));
const b = await chromium.launch({
  executablePath: chromiumPath,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"],
});
try {
  const pg = await b.newPage();
  await pg.goto(`http://127.0.0.1:${srv.address().port}/`);
  await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
  const out = await pg.evaluate(() => ({
    t: v.currentTime,
    height: v.videoHeight,
    heights: [...new Set(heights)],
    errors,
    samples,
    lowLatency: p.getLowLatencyModeEnabled?.() ?? null,
    targetLatency: p.getTargetLiveDelay?.() ?? null,
  }));
  console.log(JSON.stringify(out));
} finally {
  await b.close();
  srv.close();
}
