/**
 * The operator console in a real browser (issue 13): one platform (control with its MQTT
 * WebSocket listener, one origin, the router), Debian's Chromium driven by playwright-core under
 * node (e2e/test/fixtures/console-browser.mjs), the network beyond 127.0.0.1 cut off. Sign in,
 * create a stream and push to what the console shows, watch it go live, play it with hls.js
 * (picked rendition) and dash.js, see telemetry charts move from MQTT, cordon the node on the
 * map, read the events. Screenshots go to CONSOLE_SCREENSHOTS_DIR (docs/console/ to refresh the
 * docs), else a temp dir. Skips with a message when node, Chromium or ffmpeg is missing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { FFMPEG, freePorts, smallLadder, testPatternArgs, waitFor } from "../../shared/src/testkit/index.ts";
import { browserSuiteReady, CHROMIUM, LIBS } from "../lib/browser.ts";
import { killOrphans, PARIS, type Platform, startPlatform } from "../platform.ts";

const NAME = "e2e/test/console.test.ts (the console in Chromium)";
const ready = browserSuiteReady(NAME, ["playwright-core"]);

const ADMIN_KEY = "dk_e2e_console_key_0123456789abcdef";

interface Step {
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: each step carries its own observations
  [k: string]: any;
}
interface Seen {
  external: string[];
  steps: Step[];
  errors: string[];
  apiDuringTelemetry: number;
  websockets: string[];
}

describe.skipIf(!ready)("console in Chromium", () => {
  let platform: Platform;
  let dataDir: string;
  let shots: string;
  let seen: Seen;
  let wsPort = 0;
  const step = (name: string): Step => {
    const s = seen.steps.find((x) => x.name === name);
    if (!s) throw new Error(`the browser never reached "${name}": ${seen.errors.join("\n")}`);
    return s;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "dionysia-console-"));
    shots = resolve(process.env.CONSOLE_SCREENSHOTS_DIR ?? join(dataDir, "shots"));
    const [controlPort, routerPort, mqttPort, ws, httpPort, rtmpPort] = (await freePorts(6)) as number[];
    wsPort = ws as number;
    platform = await startPlatform({
      dataDir,
      controlPort: controlPort as number,
      routerPort: routerPort as number,
      mqttPort: mqttPort as number,
      mqttWsPort: wsPort,
      adminKey: ADMIN_KEY,
      nodeKey: "nk_e2e_console_node_0123456789abcdef",
      routerKey: "rk_e2e_console_router_0123456789abcdef",
      origins: [
        {
          id: "paris",
          region: "eu-west",
          ...PARIS,
          httpPort: httpPort as number,
          rtmpPort: rtmpPort as number,
          srtPortRange: "21100-21105",
        },
      ],
      env: { TELEMETRY_INTERVAL_MS: "500", RECONCILE_INTERVAL_MS: "500", ORIGIN_CAPACITY_UNITS: "200" },
    });
    await waitFor(
      "the origin online in GET /v1/nodes",
      async () => {
        const b = (await (await platform.api("/v1/nodes")).json()) as { items: { state: string }[] };
        return b.items.some((n) => n.state === "online");
      },
      30_000,
    );
    const prof = await platform.api("/v1/profiles", { method: "POST", json: smallLadder("console ladder") });
    if (prof.status !== 201) throw new Error(`profile: ${prof.status} ${await prof.text()}`);
    const profileId = ((await prof.json()) as { id: string }).id;
    const cfg = {
      controlUrl: platform.controlUrl,
      adminKey: ADMIN_KEY,
      profileId,
      nodeId: "paris",
      streamName: "console e2e",
      libs: LIBS,
      chromium: CHROMIUM,
      shots,
      ffmpeg: FFMPEG,
      ffmpegArgs: [...testPatternArgs({ size: "320x180", rate: 15 }), "-f", "flv"],
    };
    const child = Bun.spawn(
      ["node", join(import.meta.dir, "fixtures/console-browser.mjs"), JSON.stringify(cfg)],
      {
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const timer = setTimeout(() => child.kill("SIGKILL"), 240_000);
    const [stdout, stderr, code] = [
      await new Response(child.stdout).text(),
      await new Response(child.stderr).text(),
      await child.exited,
    ];
    clearTimeout(timer);
    const last = stdout.trim().split("\n").pop() ?? "";
    if (code !== 0 || !last.startsWith("{"))
      throw new Error(`browser script exited ${code}:\n${stderr}\n${stdout}`);
    seen = JSON.parse(last) as Seen;
    if (seen.errors.length)
      console.error(
        `browser errors:\n${seen.errors.join("\n")}\nsteps: ${JSON.stringify(seen.steps)}\npage: ${JSON.stringify(seen).slice(-1500)}\n--- control ---\n${platform.control.tail().join("\n")}`,
      );
  }, 360_000);

  afterAll(async () => {
    await platform?.stop();
    for (const o of platform?.origins.values() ?? []) killOrphans(o.spec, dataDir);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  test("nothing was requested from another host, /swagger included; no page error", () => {
    expect(seen.external).toEqual([]);
    expect(seen.errors).toEqual([]);
    expect(step("swagger")).toBeDefined();
  });

  test("sign-in keeps the key in sessionStorage, out of the URL; sign-out forgets it", () => {
    const s = step("signed-in");
    expect(s.stored).toBe(ADMIN_KEY);
    expect(s.url).not.toContain(ADMIN_KEY);
    expect(s.local).toBe(0);
    expect(step("signed-out").stored).toBeNull();
  });

  test("a stream created in the console shows its OBS server, key and SRT URL once, and goes live", async () => {
    const c = step("created");
    const rtmpPort = platform.origins.get("paris")?.spec.rtmpPort;
    expect(c.server).toBe(`rtmp://127.0.0.1:${rtmpPort}/live`);
    expect(c.key).toMatch(/^sk_/);
    expect(c.srt).toMatch(/^srt:\/\/.+passphrase=/);
    expect(step("live").row).toContain("paris");
    // A read shows no secret: the panel was the only place.
    const s = await (await platform.api(`/v1/streams/${c.streamId}`)).json();
    expect(JSON.stringify(s)).not.toContain(c.key);
  });

  test("hls.js plays, and the picked rendition's height is what the video shows", () => {
    const h = step("hls");
    expect(h.heights.sort()).toEqual([180, 90].sort());
    expect(h.t1).toBeGreaterThan(0);
    expect(h.t2).toBeGreaterThan(h.t1 + 1);
    expect(h.videoHeight).toBe(h.picked);
    expect(h.latency).toMatch(/\d/);
    expect(h.error).toBe("");
  });

  test("dash.js plays the DASH manifest", () => {
    const d = step("dash");
    expect(d.t).toBeGreaterThan(1);
    expect(d.videoHeight).toBeGreaterThan(0);
    // No error 16: dash.js took its clock from the manifest's <UTCTiming>, the router's /time.
    expect(d.error).toBe("");
    expect((d.timeRequests as string[]).some((u) => u.startsWith(`${platform.routerUrl}/time`))).toBe(true);
  });

  test("telemetry charts get new points over MQTT WebSockets, with no API polling", () => {
    const t = step("telemetry");
    expect(t.p2).toBeGreaterThan(t.p1);
    expect(t.mqtt).toContain("connected");
    expect(seen.apiDuringTelemetry).toBe(0);
    expect(seen.websockets).toContain(`ws://127.0.0.1:${wsPort}/mqtt`);
  });

  test("cordoning the node from the map shows on it, and is what the API says", async () => {
    const n = step("nodes");
    expect(n.classBefore).toBe("online");
    expect(n.classAfter).toBe("cordoned");
    // Paris on a 960x500 Natural Earth map: north of the middle, a little east of it.
    expect(n.cx).toBeGreaterThan(480);
    expect(n.cy).toBeLessThan(250);
    const node = (await (await platform.api("/v1/nodes/paris")).json()) as { cordoned: boolean };
    expect(node.cordoned).toBe(true);
  });

  test("rotating the key shows a new one once; delete removes the stream", async () => {
    const rotated = step("rotated").key as string;
    expect(rotated).toMatch(/^sk_/);
    expect(rotated).not.toBe(step("created").key);
    expect(step("deleted")).toBeDefined();
    expect((await platform.api(`/v1/streams/${step("created").streamId}`)).status).toBe(404);
  });

  test("recent events list the stream's status changes and the node's state", () => {
    const items = step("events").items as string[];
    const id = step("created").streamId as string;
    expect(items.some((i) => i.startsWith("stream:") && i.includes(id) && i.includes("live"))).toBe(true);
    expect(items.some((i) => i.startsWith("node:") && i.includes("paris online"))).toBe(true);
    // The platform events (webhook events) too: created, connected and active, from GET /v1/events.
    for (const type of ["stream.created", "stream.connected", "stream.active"])
      expect(items.some((i) => i.startsWith("event:") && i.includes(type) && i.includes(id))).toBe(true);
  });

  test("a platform event reaches the open events view over MQTT, not by polling the API", () => {
    const s = step("deleted-event");
    const id = step("created").streamId as string;
    expect(s.types as string[]).toContain(`stream.deleted ${id}`);
    // One GET /v1/events when the console opened (before the deletion): the deletion came live.
    expect(s.eventsRequests).toBe(1);
  });
});
