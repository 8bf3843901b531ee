// Plays an LL-HLS media playlist in headless Chromium with hls.js in low-latency mode; prints JSON.
// node play-ll.mjs <url> <player-libs node_modules dir> <chromium> <seconds>
import { playInChromium } from "../../../shared/src/testkit/chromium-page.mjs";

const [url, libs, chromiumPath, seconds] = process.argv.slice(2);
const body = `<script>
window.log=[];window.parts=0;window.frags=0;window.samples=[];const v=document.getElementById('v');
const h=new Hls({lowLatencyMode:true});window.h=h;
h.on(Hls.Events.ERROR,(e,d)=>log.push((d.fatal?'FATAL ':'')+d.details));
h.on(Hls.Events.FRAG_LOADED,(e,d)=>{if(d.part)parts++;else frags++;});
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
    log,
    parts,
    frags,
    samples,
    lowLatency: h.lowLatencyMode,
    partTarget: h.levels[0]?.details?.partTarget,
  }),
});
console.log(JSON.stringify(out));
