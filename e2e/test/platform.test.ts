/**
 * The whole platform as real processes: control + two origins (Paris, New York) + the router
 * (Deno when available) + mosquitto. Push through the ingest URL control names, watch through the
 * router, kill an origin carrying a pull stream and watch it come back from the other one,
 * delete and see the router forget it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freePorts,
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
import { type HlsSource, startHlsSource } from "../lib/hls-source.ts";
import { killOrphans, type Platform, startPlatform } from "../platform.ts";

const PARIS = { lat: 48.8566, lon: 2.3522 };
const NEW_YORK = { lat: 40.7128, lon: -74.006 };

const PROFILE = smallLadder();

async function ffprobeJson(
  url: string,
  seconds = 3,
): Promise<{ streams: { codec_type: string; width?: number; height?: number; codec_name: string }[] }> {
  const p = Bun.spawn(
    [
      "ffprobe",
      "-v",
      "error",
      "-rw_timeout",
      "10000000",
      "-read_intervals",
      `%+${seconds}`,
      "-show_streams",
      "-of",
      "json",
      url,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const [out, code] = [await new Response(p.stdout).text(), await p.exited];
  if (code !== 0) throw new Error(`ffprobe ${code}: ${await new Response(p.stderr).text()}`);
  return JSON.parse(out);
}

/** Where the router sends a viewer at `at` (no redirect following). */
async function redirectFor(p: Platform, id: string, at: { lat: number; lon: number }, path = "master.m3u8") {
  const res = await fetch(`${p.routerUrl}/live/${id}/${path}`, {
    redirect: "manual",
    headers: { "x-client-lat": String(at.lat), "x-client-lon": String(at.lon) },
  });
  return { status: res.status, location: res.headers.get("location") ?? "" };
}

const hasMosquitto = requireMosquitto(
  "e2e/test/platform.test.ts (control + two origins + router + mosquitto)",
);

describe.skipIf(!hasMosquitto)("e2e: control + two origins + router + mosquitto", () => {
  let broker: Mosquitto;
  let platform: Platform;
  let dataDir: string;
  let source: HlsSource | undefined;
  let publisher: Publisher | undefined;
  let receiver: WebhookReceiver | undefined;
  let parisUrl = "";
  let nyUrl = "";

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "dionysia-e2e-"));
    broker = await startMosquitto();
    const [controlPort, routerPort, p1, p2, r1, r2] = await freePorts(6);
    platform = await startPlatform({
      dataDir,
      controlPort: controlPort as number,
      routerPort: routerPort as number,
      mqttPort: 0,
      mqttUrl: broker.url,
      adminKey: "dk_e2e_admin_key_0123456789abcdef",
      nodeKey: "nk_e2e_node_key_0123456789abcdef",
      routerKey: "rk_e2e_router_key_0123456789abcdef",
      origins: [
        {
          id: "paris",
          region: "eu-west",
          ...PARIS,
          httpPort: p1 as number,
          rtmpPort: r1 as number,
          srtPortRange: "21000-21010",
        },
        {
          id: "new-york",
          region: "us-east",
          ...NEW_YORK,
          httpPort: p2 as number,
          rtmpPort: r2 as number,
          srtPortRange: "21011-21020",
        },
      ],
      env: {
        TELEMETRY_INTERVAL_MS: "500",
        RECONCILE_INTERVAL_MS: "500",
        ORIGIN_CAPACITY_UNITS: "200",
        LOG_LEVEL: "info",
      },
    });
    parisUrl = platform.origins.get("paris")?.url as string;
    nyUrl = platform.origins.get("new-york")?.url as string;
    await waitFor(
      "both origins online in GET /v1/nodes",
      async () => {
        const body = (await (await platform.api("/v1/nodes")).json()) as {
          items: { id: string; state: string }[];
        };
        return body.items.filter((n) => n.state === "online").length === 2;
      },
      20_000,
    );
  }, 120_000);

  afterAll(async () => {
    await publisher?.stop();
    await receiver?.close();
    await source?.stop();
    await platform?.stop();
    for (const o of platform?.origins.values() ?? []) killOrphans(o.spec, dataDir);
    await broker?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  let profileId = "";
  let pushId = "";

  test("push: the ingest endpoint names the nearest origin; the router sends viewers there", async () => {
    const prof = await platform.api("/v1/profiles", { method: "POST", json: PROFILE });
    expect(prof.status).toBe(201);
    profileId = ((await prof.json()) as { id: string }).id;
    // A webhook receiver on loopback (the platform allows it, as `./dionysia up` does).
    receiver = await startWebhookReceiver();
    const hook = await platform.api("/v1/webhooks", {
      method: "POST",
      json: { url: receiver.url, eventTypes: ["stream.connected", "stream.active"] },
    });
    expect(hook.status).toBe(201);
    const { secret } = (await hook.json()) as { secret: string };
    const created = await platform.api("/v1/streams", {
      method: "POST",
      json: { name: "e2e push", profileId, location: PARIS },
    });
    expect(created.status).toBe(201);
    const s = (await created.json()) as { id: string; streamKey: string };
    pushId = s.id;
    const ing = await platform.api(`/v1/streams/${pushId}/ingest?lat=48.9&lon=2.4`);
    expect(ing.status).toBe(200);
    const ingest = (await ing.json()) as { nodeId: string; ingest: { rtmp: string } };
    expect(ingest.nodeId).toBe("paris");
    const rtmpPort = platform.origins.get("paris")?.spec.rtmpPort;
    expect(ingest.ingest.rtmp).toBe(`rtmp://127.0.0.1:${rtmpPort}/live`);

    publisher = publish(`${ingest.ingest.rtmp}/${s.streamKey}`);
    const started = Date.now();
    await waitFor(
      "the master playlist through the router",
      async () => (await fetch(`${platform.routerUrl}/live/${pushId}/master.m3u8`)).ok,
      30_000,
      200,
    );
    console.log(`publish → master playlist through the router: ${Date.now() - started} ms`);
    // The receiver gets signed stream.connected and stream.active within 5 s of the publish.
    const rx = receiver;
    const arrived = await waitFor(
      "stream.connected and stream.active at the webhook receiver",
      () => {
        const at = new Map<string, number>();
        for (const h of rx.received) {
          const e = JSON.parse(h.body) as { type: string; data: { id: string } };
          if (
            e.data.id === pushId &&
            verifyWebhook(secret, h.headers["dionysia-signature"] as string, h.body)
          )
            at.set(e.type, h.at - started);
        }
        return at.has("stream.connected") && at.has("stream.active") ? at : undefined;
      },
      15_000,
      50,
    );
    console.log(`publish → webhooks: ${JSON.stringify(Object.fromEntries(arrived))} ms`);
    expect(arrived.get("stream.connected")).toBeLessThan(5000);
    expect(arrived.get("stream.active")).toBeLessThan(5000);

    // A viewer in Paris and one in New York both go to Paris: the only origin carrying it.
    expect(await redirectFor(platform, pushId, PARIS)).toEqual({
      status: 302,
      location: `${parisUrl}/live/${pushId}/master.m3u8`,
    });
    expect((await redirectFor(platform, pushId, NEW_YORK)).location.startsWith(parisUrl)).toBe(true);
  }, 60_000);

  test("every rendition reads through the router URL, at the profile's sizes", async () => {
    const master = await (await fetch(`${platform.routerUrl}/live/${pushId}/master.m3u8`)).text();
    expect(master).toContain("#EXT-X-INDEPENDENT-SEGMENTS");
    expect(master).toContain("RESOLUTION=320x180");
    expect(master).toContain("RESOLUTION=160x90");
    const uris = master.split("\n").filter((l) => l && !l.startsWith("#"));
    const media = [...master.matchAll(/URI="([^"]+)"/g)].map((m) => m[1] as string);
    for (const uri of [...uris, ...media]) {
      const res = await fetch(`${platform.routerUrl}/live/${pushId}/${uri}`);
      expect({ uri, status: res.status }).toEqual({ uri, status: 200 });
      const text = await res.text();
      expect(text).toContain("#EXTINF");
      for (const m of text.matchAll(/#EXTINF:([\d.]+)/g)) expect(Number(m[1])).toBeLessThan(1.6);
    }
    const mpd = await fetch(`${platform.routerUrl}/live/${pushId}/manifest.mpd`);
    expect(mpd.status).toBe(200);
    expect(await mpd.text()).toContain("<MPD");
    const probe = await ffprobeJson(`${platform.routerUrl}/live/${pushId}/master.m3u8`);
    const sizes = probe.streams
      .filter((s) => s.codec_type === "video")
      .map((s) => `${s.width}x${s.height}`)
      .sort();
    expect([...new Set(sizes)]).toEqual(["160x90", "320x180"]);
    expect(probe.streams.some((s) => s.codec_type === "audio" && s.codec_name === "aac")).toBe(true);
  }, 60_000);

  test("a broker restart loses no running stream", async () => {
    const playlistUrl = async () => {
      const master = await (await fetch(`${platform.routerUrl}/live/${pushId}/master.m3u8`)).text();
      const uri = master.split("\n").find((l) => l && !l.startsWith("#")) as string;
      return `${platform.routerUrl}/live/${pushId}/${uri}`;
    };
    const segments = async () =>
      (await (await fetch(await playlistUrl())).text()).split("\n").filter((l) => l && !l.startsWith("#"));
    const before = new Set(await segments());
    await broker.kill(); // no clean shutdown: retained messages are lost too
    // Down for longer than control's silence timeout (3 telemetry intervals of 500 ms): an outage
    // of control's own broker must not read as every node going silent.
    await Bun.sleep(2500);
    await broker.restart();
    const restartedAt = Date.now();
    // Origins and control reconnect: telemetry reaches control again through the new broker.
    await waitFor(
      "both origins reporting through the restarted broker",
      async () => {
        const body = (await (await platform.api("/v1/nodes")).json()) as {
          items: { state: string; lastSeen: string }[];
        };
        return (
          body.items.filter((n) => n.state === "online" && Date.parse(n.lastSeen) > restartedAt + 500)
            .length === 2
        );
      },
      20_000,
      250,
    );
    // The transcoder never stopped: new segments keep coming and the router still routes.
    await waitFor(
      "new segments after the restart",
      async () => (await segments()).some((u) => !before.has(u)),
      10_000,
    );
    expect((await redirectFor(platform, pushId, PARIS)).location.startsWith(parisUrl)).toBe(true);
    const s = (await (await platform.api(`/v1/streams/${pushId}`)).json()) as {
      status: string;
      nodeId: string;
    };
    expect(s).toMatchObject({ status: "live", nodeId: "paris" });
  }, 60_000);

  test("SRT: creation reserves the stream on its ingest node; the node's listener takes a push with the passphrase", async () => {
    const created = await platform.api("/v1/streams", {
      method: "POST",
      json: { name: "e2e srt", profileId, location: PARIS },
    });
    const s = (await created.json()) as {
      id: string;
      nodeId: string | null;
      srtPassphrase: string;
      ingest: { srt: string };
    };
    // A push stream is reserved on its ingest node at creation, so the reply's URL works as it is.
    expect(s.nodeId).toBe("paris");
    // Control assigned the stream its own SRT port at creation: the create reply's URL is the one
    // to push to (secrets filled in), and reads show the same port with a placeholder.
    const m = /^srt:\/\/127\.0\.0\.1:(\d+)\?passphrase=([^&]+)&pbkeylen=16$/.exec(s.ingest.srt);
    expect(m?.[2]).toBe(s.srtPassphrase);
    const port = Number(m?.[1]);
    const ing = (await (await platform.api(`/v1/streams/${s.id}/ingest?lat=48.8&lon=2.3`)).json()) as {
      nodeId: string;
      ingest: { srt: string };
    };
    expect(ing.nodeId).toBe("paris");
    expect(ing.ingest.srt).toBe(`srt://127.0.0.1:${port}?passphrase={passphrase}&pbkeylen=16`);
    // The reserved node starts its listener on that port (desired state `srtPort`).
    await waitFor(
      "the stream's SRT listener",
      async () => {
        const st = (await (await platform.api(`/v1/streams/${s.id}`)).json()) as { nodeId: string | null };
        return st.nodeId === "paris";
      },
      15_000,
      200,
    );
    const srtPub = publish(s.ingest.srt!, { seconds: 30, format: "mpegts" });
    try {
      await waitFor(
        "the SRT stream through the router",
        async () => (await fetch(`${platform.routerUrl}/live/${s.id}/master.m3u8`)).ok,
        30_000,
        250,
      );
    } finally {
      await srtPub.stop();
      await platform.api(`/v1/streams/${s.id}`, { method: "DELETE" });
    }
  }, 60_000);

  let pullId = "";
  test("a pull stream is placed near its location and served through the router", async () => {
    source = await startHlsSource();
    const created = await platform.api("/v1/streams", {
      method: "POST",
      json: { name: "e2e pull", profileId, source: source.url, location: NEW_YORK },
    });
    expect(created.status).toBe(201);
    pullId = ((await created.json()) as { id: string }).id;
    await waitFor(
      "the pull stream through the router",
      async () => (await fetch(`${platform.routerUrl}/live/${pullId}/master.m3u8`)).ok,
      40_000,
      250,
    );
    expect((await redirectFor(platform, pullId, NEW_YORK)).location).toBe(
      `${nyUrl}/live/${pullId}/master.m3u8`,
    );
  }, 60_000);

  test("SIGKILL of its origin: the pull stream comes back through the router from the other origin", async () => {
    const ny = platform.origins.get("new-york");
    if (!ny) throw new Error("no new-york origin");
    const killedAt = Date.now();
    await platform.group.stopOne(ny.svc, "SIGKILL");
    killOrphans(ny.spec, dataDir); // a dead host takes its ffmpeg children with it
    const seen = new Set<number>();
    await waitFor(
      "the router to send New York viewers to Paris",
      async () => {
        const r = await redirectFor(platform, pullId, NEW_YORK);
        seen.add(r.status);
        return r.location.startsWith(parisUrl);
      },
      15_000,
      100,
    );
    const rerouted = Date.now() - killedAt;
    // Routes follow readiness: meanwhile viewers get a retryable 503, never a 404.
    expect([...seen].every((s) => s === 302 || s === 503)).toBe(true);
    // Once rerouted, Paris already serves it.
    expect((await fetch(`${platform.routerUrl}/live/${pullId}/master.m3u8`)).status).toBe(200);
    await waitFor(
      "a playable playlist from Paris",
      async () => {
        const res = await fetch(`${platform.routerUrl}/live/${pullId}/master.m3u8`, {
          headers: { "x-client-lat": String(NEW_YORK.lat), "x-client-lon": String(NEW_YORK.lon) },
        });
        return res.ok && res.url.startsWith(parisUrl);
      },
      40_000,
      250,
    );
    console.log(
      `SIGKILL → route moved: ${rerouted} ms; → master served from Paris: ${Date.now() - killedAt} ms`,
    );
    const probe = await ffprobeJson(`${platform.routerUrl}/live/${pullId}/master.m3u8`, 2);
    expect(probe.streams.some((s) => s.codec_type === "video" && s.width === 320 && s.height === 180)).toBe(
      true,
    );
  }, 90_000);

  test("deleting the streams makes the router answer 404", async () => {
    for (const id of [pullId, pushId]) {
      const del = await platform.api(`/v1/streams/${id}`, { method: "DELETE" });
      expect(del.status).toBe(204);
      await waitFor(
        `router 404 for ${id}`,
        async () =>
          (await fetch(`${platform.routerUrl}/live/${id}/master.m3u8`, { redirect: "manual" })).status ===
          404,
        10_000,
      );
    }
    const res = await fetch(`${platform.routerUrl}/live/${pullId}/master.m3u8`);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(((await res.json()) as { error: { code: string } }).error.code).toBeTruthy();
  }, 30_000);
});
