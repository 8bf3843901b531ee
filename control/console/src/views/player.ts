/**
 * A live player for one stream: hls.js (low-latency mode when the profile packages LL-HLS) with a
 * rendition picker and the measured latency, or the DASH manifest through dash.js. Signed streams
 * play from a short-lived token control issues for this operator.
 */
import type { Profile, Stream } from "@dionysia/shared";
import { dashjsSettings } from "@dionysia/shared/player-settings";
import dashjs from "dashjs";
import Hls from "hls.js";
import { api } from "../api.ts";
import { fmtBps, fmtNum, h, type View } from "../dom.ts";
import { hlsOptions } from "../model.ts";

interface Urls {
  hls: string;
  dash?: string | undefined;
}

async function playbackUrls(s: Stream): Promise<Urls> {
  if (s.playbackPolicy !== "signed") return s.playback;
  return api<Urls>("POST", `/v1/streams/${encodeURIComponent(s.id)}/playback-tokens`, { ttlSeconds: 3600 });
}

export const playerView: View = (root, [id = "", kind = "hls"]) => {
  const video = h("video", { muted: true, autoplay: true, playsinline: true, controls: true });
  video.muted = true;
  const picker = h("select", { "aria-label": "Rendition", "data-testid": "rendition", disabled: true });
  const stats = h("dl", { "data-testid": "player-stats" });
  const error = h("p", { class: "error", role: "alert" });
  const title = h("h2", {}, `Player: ${id}`);
  const toggle = h(
    "a",
    { href: `#/play/${encodeURIComponent(id)}/${kind === "dash" ? "hls" : "dash"}` },
    kind === "dash" ? "Play HLS (hls.js)" : "Play DASH (dash.js)",
  );
  root.append(
    title,
    h(
      "div",
      { class: "player" },
      h("div", {}, video),
      h(
        "aside",
        {},
        h("p", {}, h("strong", {}, kind === "dash" ? "dash.js" : "hls.js"), " · ", toggle),
        h("label", {}, "Rendition ", picker),
        stats,
        error,
      ),
    ),
  );
  const rows = new Map<string, HTMLElement>();
  const stat = (k: string, v: string) => {
    let dd = rows.get(k);
    if (!dd) {
      dd = h("dd", { "data-stat": k });
      rows.set(k, dd);
      stats.append(h("dt", {}, k), dd);
    }
    dd.textContent = v;
  };

  let hls: Hls | undefined;
  let dash: dashjs.MediaPlayerClass | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let stopped = false;

  const start = async () => {
    const s = await api<Stream>("GET", `/v1/streams/${encodeURIComponent(id)}`);
    title.textContent = `Player: ${s.name} (${s.status})`;
    const profile = await api<Profile>("GET", `/v1/profiles/${encodeURIComponent(s.profileId)}`).catch(
      () => undefined,
    );
    const urls = await playbackUrls(s);
    if (stopped) return;
    if (kind === "dash") {
      if (!urls.dash) throw new Error("this stream's profile packages no DASH");
      stat("manifest", urls.dash);
      dash = dashjs.MediaPlayer().create();
      // The clock: the manifest's <UTCTiming> (the router's /time, DASH_UTC_TIMING_URL).
      dash.updateSettings(dashjsSettings(profile?.formats));
      dash.on(dashjs.MediaPlayer.events.ERROR, (e: unknown) => {
        error.textContent = `dash.js: ${JSON.stringify((e as { error?: unknown }).error ?? e).slice(0, 200)}`;
      });
      dash.on(dashjs.MediaPlayer.events.STREAM_INITIALIZED, () => {
        const reps = dash?.getBitrateInfoListFor("video") ?? [];
        picker.replaceChildren(
          h("option", { value: "-1" }, "Auto"),
          ...reps.map((r) =>
            h(
              "option",
              { value: String(r.qualityIndex), "data-height": r.height },
              `${r.height}p · ${fmtBps(r.bitrate)}`,
            ),
          ),
        );
        picker.disabled = false;
      });
      dash.initialize(video, urls.dash, true);
    } else {
      const options = hlsOptions(profile);
      stat("master", urls.hls);
      stat("low latency", options.lowLatencyMode ? "on (LL-HLS)" : "off");
      if (!Hls.isSupported()) throw new Error("this browser has no Media Source Extensions");
      hls = new Hls(options);
      hls.on(Hls.Events.ERROR, (_e, d) => {
        if (d.fatal) error.textContent = `hls.js: ${d.details}${d.response ? ` ${d.response.code}` : ""}`;
      });
      hls.on(Hls.Events.MANIFEST_PARSED, (_e, d) => {
        picker.replaceChildren(
          h("option", { value: "-1" }, "Auto"),
          ...d.levels.map((l, i) =>
            h("option", { value: String(i), "data-height": l.height }, `${l.height}p · ${fmtBps(l.bitrate)}`),
          ),
        );
        picker.disabled = false;
      });
      hls.loadSource(urls.hls);
      hls.attachMedia(video);
    }
    void video.play().catch(() => {});
  };

  picker.onchange = () => {
    const i = Number(picker.value);
    if (hls) hls.currentLevel = i;
    if (dash) {
      dash.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: i < 0 } } } });
      if (i >= 0) dash.setQualityFor("video", i, true); // replace what is buffered: the pick shows now
    }
  };

  timer = setInterval(() => {
    stat("time", fmtNum(video.currentTime, 1, " s"));
    stat("video", video.videoHeight ? `${video.videoWidth}×${video.videoHeight}` : "–");
    if (hls) {
      const level = hls.levels[hls.currentLevel];
      stat("level", level ? `${level.height}p${hls.autoLevelEnabled ? " (auto)" : ""}` : "–");
      // Wall-clock latency when the playlist carries PROGRAM-DATE-TIME; else distance to the live edge.
      const date = hls.playingDate;
      stat(
        "latency",
        date
          ? `${fmtNum((Date.now() - date.getTime()) / 1000, 2, " s")} (glass to glass)`
          : fmtNum(hls.latency, 2, " s behind live edge"),
      );
      stat("bandwidth", fmtBps(hls.bandwidthEstimate));
    }
    if (dash) {
      stat("latency", fmtNum(dash.getCurrentLiveLatency(), 2, " s"));
      const q = dash.getQualityFor("video");
      const info = dash.getBitrateInfoListFor("video")[q];
      stat("level", info ? `${info.height}p` : "–");
    }
  }, 500);

  start().catch((err) => {
    error.textContent = (err as Error).message;
  });
  return () => {
    stopped = true;
    clearInterval(timer);
    hls?.destroy();
    dash?.reset();
  };
};
