// Plays a DASH manifest in headless Chromium with dash.js and reports what the player did: errors
// (code and message), the heights played, latency samples, the live delay target it took.
// node play-dash.mjs <mpd url> <node_modules dir> <chromium> <seconds> [dash.js settings JSON]
import { playInChromium } from "../../shared/src/testkit/chromium-page.mjs";

const [url, libs, chromiumPath, seconds, settingsJson] = process.argv.slice(2);
const body = `<script>
window.errors=[];window.samples=[];window.heights=[];
const v=document.getElementById('v');
const p=dashjs.MediaPlayer().create();window.p=p;
p.updateSettings(${settingsJson || "{}"});
p.on(dashjs.MediaPlayer.events.ERROR,(e)=>errors.push(String(e.error?.code??'')+' '+String(e.error?.message??e.error??'').slice(0,120)));
setInterval(()=>{const l=p.getCurrentLiveLatency();if(l>0&&!v.paused)samples.push(l);if(v.videoHeight)heights.push(v.videoHeight)},250);
p.initialize(v,${JSON.stringify(url)},true);</script>`;
const out = await playInChromium({
  libs,
  chromiumPath,
  lib: "dashjs/dist/dash.all.min.js",
  body,
  seconds: Number(seconds),
  collect: () => ({
    t: v.currentTime,
    height: v.videoHeight,
    heights: [...new Set(heights)],
    errors,
    samples,
    lowLatency: p.getLowLatencyModeEnabled?.() ?? null,
    targetLatency: p.getTargetLiveDelay?.() ?? null,
  }),
});
console.log(JSON.stringify(out));
