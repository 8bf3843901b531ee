/**
 * A hosted platform's stream lifecycle through the whole platform (issue 15): control + one
 * origin + the router + mosquitto, a webhook receiver on loopback. A recording stream is pushed,
 * its publisher drops for 5 s and comes back, then stops: the receiver gets the signed lifecycle
 * in order (the window closing last), one asset results, and the asset plays to its end through
 * the router in ffprobe and in hls.js.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hlsjsSettings } from "../../shared/src/player-settings.ts";
import {
  type Mosquitto,
  type Publisher,
  publish,
  requireMosquitto,
  smallLadder,
  startMosquitto,
  startWebhookReceiver,
  type WebhookReceiver,
  waitFor,
} from "../../shared/src/testkit/index.ts";
import { verifyWebhook } from "../../shared/src/webhook-signature.ts";
import { browserSuiteReady, CHROMIUM, LIBS, NODE } from "../lib/browser.ts";
import { killOrphans, PARIS, type Platform, ROOT, startParisPlatform } from "../platform.ts";

const ready = browserSuiteReady("e2e/test/lifecycle.test.ts (stream lifecycle and recordings)");
const hasMosquitto = requireMosquitto("e2e/test/lifecycle.test.ts (stream lifecycle and recordings)");

const WINDOW_S = 10;

describe.skipIf(!ready || !hasMosquitto)("e2e: stream lifecycle, reconnect window, recording", () => {
  let broker: Mosquitto;
  let platform: Platform;
  let dataDir: string;
  let receiver: WebhookReceiver;
  let publisher: Publisher | undefined;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "dionysia-e2e-life-"));
    broker = await startMosquitto();
    platform = await startParisPlatform({
      dataDir,
      mqttUrl: broker.url,
      srtPortRange: "21200-21210",
      env: { TELEMETRY_INTERVAL_MS: "500", RECONCILE_INTERVAL_MS: "500", ORIGIN_CAPACITY_UNITS: "200" },
    });
    receiver = await startWebhookReceiver();
  }, 120_000);

  afterAll(async () => {
    await publisher?.stop();
    await receiver?.close();
    await platform?.stop();
    for (const o of platform?.origins.values() ?? []) killOrphans(o.spec, dataDir);
    await broker?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  test("drop for 5 s and back, then stop: signed lifecycle webhooks in order, one asset that plays to its end", async () => {
    const hook = await platform.api("/v1/webhooks", { method: "POST", json: { url: receiver.url } });
    expect(hook.status).toBe(201);
    const { secret } = (await hook.json()) as { secret: string };
    const prof = await platform.api("/v1/profiles", {
      method: "POST",
      json: { ...smallLadder("e2e lifecycle"), formats: ["hls"], reconnectWindowSeconds: WINDOW_S },
    });
    expect(prof.status).toBe(201);
    const profileId = ((await prof.json()) as { id: string }).id;
    const created = await platform.api("/v1/streams", {
      method: "POST",
      json: { name: "e2e lifecycle", profileId, location: PARIS, record: true },
    });
    const s = (await created.json()) as { id: string; streamKey: string; ingest: { rtmp: string } };
    const id = s.id;
    const ing = (await (await platform.api(`/v1/streams/${id}/ingest`)).json()) as {
      ingest: { rtmp: string };
    };
    const pushUrl = `${ing.ingest.rtmp}/${s.streamKey}`;
    const status = async () =>
      ((await (await platform.api(`/v1/streams/${id}`)).json()) as { status: string }).status;
    const events = () =>
      receiver.received
        .map((h) => ({
          h,
          e: JSON.parse(h.body) as { type: string; data: { id: string; streamId?: string } },
        }))
        .filter(({ e }) => e.data.id === id || e.data.streamId === id);

    const pushed: number[] = [];
    const push = async (ms: number) => {
      const t0 = Date.now();
      publisher = publish(pushUrl, { size: "640x360", rate: 15, seconds: 300 });
      await waitFor("live", async () => (await status()) === "live", 45_000, 200);
      await Bun.sleep(ms); // the streamer streams
      await publisher.stop();
      pushed.push((Date.now() - t0) / 1000);
    };
    const started = Date.now();
    await push(8000);
    await waitFor("reconnecting", async () => (await status()) === "reconnecting", 10_000, 200);
    await Bun.sleep(5000); // the blip
    expect(await status()).toBe("reconnecting");
    await push(8000);
    const stoppedAt = Date.now();
    await waitFor("reconnecting again", async () => (await status()) === "reconnecting", 10_000, 200);
    await waitFor(
      "the window closes: idle",
      async () => (await status()) === "idle",
      (WINDOW_S + 10) * 1000,
      250,
    );
    expect((Date.now() - stoppedAt) / 1000).toBeGreaterThan(WINDOW_S - 2);

    // One asset for the two publishes.
    const asset = await waitFor(
      "one asset",
      async () => {
        const r = (await (await platform.api(`/v1/streams/${id}/assets`)).json()) as {
          items: { id: string; durationSeconds: number; sessions: number; playback: { hls: string } }[];
        };
        return r.items.length > 0 ? r.items : undefined;
      },
      20_000,
      250,
    );
    expect(asset).toHaveLength(1);
    const a = asset[0]!;
    expect(a.sessions).toBe(2);
    const pushedTotal = pushed.reduce((x, y) => x + y, 0);
    console.log(
      `pushed ${pushed.map((p) => p.toFixed(1)).join(" + ")} s; asset ${a.durationSeconds} s in ${a.sessions} sessions`,
    );

    // The webhooks, signed, in order; the window's end last, then the asset.
    await waitFor(
      "recording.ready at the receiver",
      () => events().some(({ e }) => e.type === "recording.ready"),
      15_000,
    );
    for (const { h } of events())
      expect(verifyWebhook(secret, h.headers["dionysia-signature"] as string, h.body)).toBe(true);
    const order = events().map(({ e }) => e.type);
    expect(order).toEqual([
      "stream.created",
      "stream.connected",
      "stream.active",
      "stream.disconnected",
      "stream.connected",
      "stream.active",
      "stream.disconnected",
      "stream.idle",
      "recording.ready",
    ]);
    const activeAt = events().find(({ e }) => e.type === "stream.active")!.h.at - started;
    expect(activeAt).toBeLessThan(5000 + 1000);

    // Through the router: ffprobe reads it whole, its duration within one segment of the asset's.
    const url = `${platform.routerUrl}/vod/${a.id}/master.m3u8`;
    expect(a.playback.hls.endsWith(`/vod/${a.id}/master.m3u8`)).toBe(true);
    const probe = Bun.spawn(
      ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", url],
      { stdout: "pipe", stderr: "pipe" },
    );
    const seconds = Number((await new Response(probe.stdout).text()).trim());
    expect(await probe.exited).toBe(0);
    expect(Math.abs(seconds - a.durationSeconds)).toBeLessThan(1.1);
    // What was pushed (wall clock from each publisher's start, handshake included) is what the
    // asset holds, within one segment per publish; never more.
    expect(a.durationSeconds).toBeGreaterThan(pushedTotal - pushed.length * 1);
    expect(a.durationSeconds).toBeLessThan(pushedTotal + 0.5);

    // hls.js plays it to its end.
    const proc = Bun.spawn(
      [
        NODE!,
        join(ROOT, "e2e/lib/play-abr.mjs"),
        url,
        LIBS,
        CHROMIUM,
        String(Math.ceil(seconds) + 8),
        JSON.stringify(hlsjsSettings(["hls"])),
      ],
      { stdout: "pipe", stderr: "pipe", timeout: 90_000 },
    );
    const [stdout, stderr] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text()];
    await proc.exited;
    expect(stderr).toBe("");
    const out = JSON.parse(stdout.trim().split("\n").pop()!) as { t: number; log: string[] };
    console.log(
      `hls.js on the asset: played to ${out.t.toFixed(2)} s of ${seconds.toFixed(2)} s; ${out.log.join(", ") || "no errors"}`,
    );
    expect(out.log.filter((l) => l.startsWith("FATAL"))).toEqual([]);
    expect(Math.abs(out.t - seconds)).toBeLessThan(1);

    // And its DASH manifest in dash.js, to its end (one Period per publish).
    const dash = Bun.spawn(
      [
        NODE!,
        join(ROOT, "e2e/lib/play-dash.mjs"),
        `${platform.routerUrl}/vod/${a.id}/manifest.mpd`,
        LIBS,
        CHROMIUM,
        String(Math.ceil(seconds) + 8),
        JSON.stringify({}),
      ],
      { stdout: "pipe", stderr: "pipe", timeout: 90_000 },
    );
    const [dout, derr] = [await new Response(dash.stdout).text(), await new Response(dash.stderr).text()];
    await dash.exited;
    expect(derr).toBe("");
    const d = JSON.parse(dout.trim().split("\n").pop()!) as { t: number; errors: string[] };
    console.log(
      `dash.js on the asset: played to ${d.t.toFixed(2)} s; ${d.errors.join(" | ") || "no errors"}`,
    );
    expect(d.errors).toEqual([]);
    expect(Math.abs(d.t - seconds)).toBeLessThan(1.5);

    // Its thumbnail at a time through the router: a JPEG of the asked size.
    const thumb = await fetch(`${platform.routerUrl}/vod/${a.id}/thumbnail.jpg?time=5&width=320`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get("content-type")).toBe("image/jpeg");
    const jpg = join(dataDir, "asset-thumb.jpg");
    await Bun.write(jpg, await thumb.arrayBuffer());
    const dims = Bun.spawn(
      ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", jpg],
      { stdout: "pipe" },
    );
    expect((await new Response(dims.stdout).text()).trim()).toBe("mjpeg,320,180");

    // Deleted: the router forgets it.
    expect((await platform.api(`/v1/assets/${a.id}`, { method: "DELETE" })).status).toBe(204);
    await waitFor("the router answers 404", async () => (await fetch(url)).status === 404, 10_000, 200);
  }, 240_000);
});
