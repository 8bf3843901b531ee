// Plays a master playlist in headless Chromium with hls.js and reports what the player did: the
// rung it played over time, errors, parts, latency. Prints one JSON line.
// node play-abr.mjs <master url> <node_modules dir> <chromium> <seconds> [hls.js config JSON]
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [url, libs, chromiumPath, seconds, configJson] = process.argv.slice(2);
const { chromium } = await import(pathToFileURL(join(libs, "playwright-core/index.mjs")).href);
const lib = readFileSync(join(libs, "hls.js/dist/hls.min.js"));
const page = `<!doctype html><video id=v muted autoplay playsinline></video><script src="/lib.js"></script><script>
window.log=[];window.parts=0;window.frags=0;window.samples=[];window.switches=[];window.t0=0;
const v=document.getElementById('v');
const h=new Hls(${configJson || "{}"});window.h=h;
h.on(Hls.Events.ERROR,(e,d)=>log.push((d.fatal?'FATAL ':'')+d.details));
h.on(Hls.Events.FRAG_LOADED,(e,d)=>{if(d.part)parts++;else frags++;});
h.on(Hls.Events.LEVEL_SWITCHED,(e,d)=>switches.push({at:performance.now()-t0,height:h.levels[d.level].height}));
v.addEventListener('playing',()=>{if(!t0)t0=performance.now();},{once:true});
setInterval(()=>{if(h.latency)samples.push(h.latency)},250);
h.loadSource(${JSON.stringify(url)});h.attachMedia(v);</script>`;
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
    heights: h.levels.map((l) => l.height),
    log,
    parts,
    frags,
    samples,
    switches: switches.map((s) => ({ at: s.at / 1000, height: s.height })),
    lowLatency: h.lowLatencyMode,
    partTarget: h.levels[h.currentLevel]?.details?.partTarget,
  }));
  console.log(JSON.stringify(out));
} finally {
  await b.close();
  srv.close();
}
