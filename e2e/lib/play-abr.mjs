// Plays a master playlist in headless Chromium with hls.js and reports what the player did: the
// rung it played over time, errors, parts, latency. Prints one JSON line.
// node play-abr.mjs <master url> <node_modules dir> <chromium> <seconds> [hls.js config JSON]
import { playInChromium } from "../../shared/src/testkit/chromium-page.mjs";

const [url, libs, chromiumPath, seconds, configJson] = process.argv.slice(2);
const body = `<script>
window.log=[];window.parts=0;window.frags=0;window.samples=[];window.switches=[];window.t0=0;
const v=document.getElementById('v');
const h=new Hls(${configJson || "{}"});window.h=h;
h.on(Hls.Events.ERROR,(e,d)=>log.push((d.fatal?'FATAL ':'')+d.details));
h.on(Hls.Events.FRAG_LOADED,(e,d)=>{if(d.part)parts++;else frags++;});
h.on(Hls.Events.LEVEL_SWITCHED,(e,d)=>switches.push({at:performance.now()-t0,height:h.levels[d.level].height}));
v.addEventListener('playing',()=>{if(!t0)t0=performance.now();},{once:true});
setInterval(()=>{if(h.latency)samples.push(h.latency)},250);
h.loadSource(${JSON.stringify(url)});h.attachMedia(v);</script>`;
const out = await playInChromium({
  libs,
  chromiumPath,
  lib: "hls.js/dist/hls.min.js",
  body,
  seconds: Number(seconds),
  collect: () => ({
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
  }),
});
console.log(JSON.stringify(out));
