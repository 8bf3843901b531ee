/**
 * The ansible rollout, run for real (issue 12, ADR 0061): Debian 12 test hosts (debootstrap, one
 * overlay each, own network namespace), the playbook from a clean state with the example
 * inventory, then again: the second run changes nothing. The services run as their units say
 * (services.ts, started by the playbook's restart handlers as systemd would be) and form a
 * network: origins register over the deployed broker, a push plays through the deployed router
 * from a namespace of its own, a crashed origin's pull stream moves to the other, and a rollout
 * of changed origin settings drains each origin before it restarts. Runs in the deploy stage of
 * CI (`./dionysia test-deploy`, as root); elsewhere it says why it skipped.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Publisher } from "../../shared/src/testkit/index.ts";
import { findBinary, reportSkip, waitFor } from "../../shared/src/testkit/index.ts";
import { type HlsSource, startHlsSource } from "../lib/hls-source.ts";
import {
  baseImage,
  installNodeSourceLikeNode,
  makeHosts,
  sh,
  type TestHost,
  type TestNetwork,
} from "./hosts.ts";
import { tcpConnack, wsConnack } from "./mqtt-probe.ts";
import {
  type PlaybookRun,
  REPO,
  runPlaybook,
  type Secrets,
  testHostsInventory,
  writeInventory,
  writeSecrets,
} from "./playbook.ts";
import { type HostInit, hostInit, RESTART_COMMAND } from "./services.ts";
import { controlApi, probeFrom, publishFrom } from "./viewer.ts";

const NAME = "e2e/deploy/rollout.test.ts";

function why(): string | undefined {
  if (process.env.DIONYSIA_DEPLOY_TEST !== "1") return "runs in the deploy stage (./dionysia test-deploy)";
  if (process.getuid?.() !== 0) return "needs root (overlay mounts, network namespaces)";
  for (const b of [
    "debootstrap",
    "ansible-playbook",
    "ip",
    "dpkg-deb",
    "unshare",
    "setsid",
    "ffmpeg",
    "ffprobe",
  ])
    if (!findBinary(b)) return `${b} is not installed (apt-get install debootstrap ansible iproute2 ffmpeg)`;
  const doc = Bun.spawnSync(["ansible-doc", "-t", "connection", "community.general.chroot"], {
    stdout: "pipe",
  });
  if (doc.exitCode !== 0)
    return "ansible's community.general collection is missing (apt-get install ansible)";
  return undefined;
}
const skip = why();
// Outside the deploy stage the skip is expected, not a gap: only report real ones.
if (skip && process.env.DIONYSIA_DEPLOY_TEST === "1") reportSkip(NAME, skip);

/** The example inventory's hosts, and a viewer outside them. */
const NAMES = [
  "control-1.example.net",
  "edge-par-1.example.net",
  "edge-fra-1.example.net",
  "router-1.example.net",
];
const FRANKFURT = { lat: 50.1, lon: 8.7 };
const PARIS = { lat: 48.9, lon: 2.4 };

interface NodeView {
  id: string;
  state: string;
  draining: boolean;
  load: { streams: number };
}
interface StreamView {
  id: string;
  nodeId: string | null;
  status: string;
}

describe.skipIf(skip !== undefined)("ansible rollout on Debian 12 test hosts", () => {
  let net: TestNetwork;
  let work: string;
  let secrets: Secrets;
  let inventory: string;
  let inits: Map<string, HostInit>;
  let api: ReturnType<typeof controlApi>;
  let viewer: TestHost;
  let source: HlsSource | undefined;
  let publisher: Publisher | undefined;
  const runs: PlaybookRun[] = [];
  const host = (prefix: string) => net.hosts.find((h) => h.name.startsWith(prefix)) as TestHost;
  const deployed = () => ({ ...net, hosts: net.hosts.filter((h) => NAMES.includes(h.name)) });
  const routerUrl = "http://router-1.example.net:8000";

  async function playbook(extra: string[] = []): Promise<PlaybookRun> {
    const run = await runPlaybook(work, deployed(), secrets, [inventory, ...extra]);
    console.log(`ansible-playbook run ${runs.length + 1}: exit ${run.code} in ${run.seconds.toFixed(0)} s`);
    if (run.code !== 0) console.log(run.out.slice(-6000));
    runs.push(run);
    return run;
  }

  const nodes = async () => (await api<{ items: NodeView[] }>("/v1/nodes")).body.items;
  const stream = async (id: string) => (await api<StreamView>(`/v1/streams/${id}`)).body;
  const plays = async (id: string) => {
    const p = await probeFrom(viewer, `${routerUrl}/live/${id}/master.m3u8`);
    return p.exitCode === 0 && p.streams.some((s) => s.codec_type === "video");
  };

  beforeAll(() => {
    const base = baseImage((s) => console.log(s));
    net = makeHosts([...NAMES, "viewer-1.example.net"], base);
    viewer = host("viewer");
    work = mkdtempSync(join(tmpdir(), "dionysia-rollout-"));
    inits = new Map(deployed().hosts.map((h) => [h.name, hostInit(h, work)]));
    secrets = writeSecrets(work);
    inventory = testHostsInventory(work, deployed(), RESTART_COMMAND);
    api = controlApi(host("control"), secrets.adminKey);
    installNodeSourceLikeNode(host("edge-fra"));
  }, 600_000);

  afterAll(async () => {
    await publisher?.stop();
    await source?.stop();
    await Promise.all([...(inits?.values() ?? [])].map((i) => i.close()));
    net?.destroy();
    if (secrets) rmSync(secrets.file, { force: true });
    if (work) console.log(`service logs: ${work}`);
  }, 60_000);

  test("the first run from a clean state succeeds on every host", async () => {
    const run = await playbook();
    expect(Object.keys(run.recap).sort()).toEqual([...NAMES].sort());
    for (const [h, r] of Object.entries(run.recap))
      expect({ host: h, failed: r.failed, unreachable: r.unreachable }).toEqual({
        host: h,
        failed: 0,
        unreachable: 0,
      });
    expect(run.code).toBe(0);
    // The restart handlers started each host's service, as systemd would on its first start.
    // The broker first on control: mosquitto, as the example inventory chooses.
    const units: Record<string, string[]> = {
      "control-1.example.net": ["mosquitto", "dionysia-control"],
      "edge-par-1.example.net": ["dionysia-origin"],
      "edge-fra-1.example.net": ["dionysia-origin"],
      "router-1.example.net": ["dionysia-router"],
    };
    for (const [h, init] of inits)
      expect({ h, started: [...init.services.keys()] }).toEqual({ h, started: units[h] ?? [] });
  }, 900_000);

  test("each host has the release, its unit and its env file (secrets 0640)", () => {
    const commit = sh(["git", "-C", REPO, "rev-parse", "--short=12", "HEAD"]).trim();
    const role = (n: string) => (n.startsWith("edge") ? "origin" : n.split("-")[0]);
    for (const h of deployed().hosts) {
      // The link is absolute inside the host: resolve it under the host's root.
      const current = join(h.root, readlinkSync(join(h.root, "opt/dionysia/current")));
      expect(readFileSync(join(current, ".release"), "utf8").trim()).toBe(commit);
      expect(existsSync(join(current, ".tools/node_modules/.bin/bun"))).toBe(true);
      const unit = readFileSync(join(h.root, `etc/systemd/system/dionysia-${role(h.name)}.service`), "utf8");
      expect(unit).toContain(`ExecStart=/opt/dionysia/current/dionysia ${role(h.name)}`);
      const env = statSync(join(h.root, `etc/dionysia-${role(h.name)}.env`));
      expect((env.mode & 0o777).toString(8)).toBe("640");
      // ffmpeg only where it transcodes.
      expect({ host: h.name, ffmpeg: existsSync(join(h.root, "usr/bin/ffmpeg")) }).toEqual({
        host: h.name,
        ffmpeg: role(h.name) === "origin",
      });
    }
  });

  test("a host with NodeSource's Node.js keeps it: the rollout installs no npm", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
    const status = sh(["chroot", host("edge-fra").root, "dpkg-query", "-W", "-f", "${Version}", "nodejs"]);
    expect(status).toBe("20.19.0-1nodesource1");
  });

  test("the second run changes nothing", async () => {
    const run = await playbook();
    const changed = Object.fromEntries(Object.entries(run.recap).map(([h, r]) => [h, r.changed + r.failed]));
    expect(changed).toEqual(Object.fromEntries(NAMES.map((n) => [n, 0])));
    expect(run.code).toBe(0);
  }, 900_000);

  test("mosquitto runs with the generated users and ACLs: no anonymous client, control on its own user, dashboards over WebSockets", async () => {
    const control = host("control");
    const conf = readFileSync(join(control.root, "etc/mosquitto/conf.d/dionysia.conf"), "utf8");
    expect(conf).toContain("allow_anonymous false");
    expect(conf).toContain("password_file /etc/mosquitto/dionysia/passwd");
    const passwd = statSync(join(control.root, "etc/mosquitto/dionysia/passwd"));
    expect((passwd.mode & 0o777).toString(8)).toBe("600");
    const users = readFileSync(join(control.root, "etc/mosquitto/dionysia/passwd"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(":")[0])
      .sort();
    expect(users).toEqual([
      "dionysia.control",
      "dionysia.dashboard",
      "dionysia.router",
      "edge-fra-1",
      "edge-par-1",
    ]);
    const env = readFileSync(join(control.root, "etc/dionysia-control.env"), "utf8");
    expect(env).toContain("MQTT_URL=mqtt://127.0.0.1:1883");
    expect(env).toContain("MQTT_USERNAME=dionysia.control");
    // An anonymous client on the broker's port is refused: CONNACK "not authorized" (5).
    expect(await tcpConnack(control.address, 1883)).toBe(5);
    // Dashboards: MQTT over WebSockets with the read-only user, as control hands it to the console.
    expect(conf).toContain("protocol websockets");
    const cred = await api<{ url: string; username: string; password: string }>("/v1/telemetry/mqtt");
    expect(cred.status).toBe(200);
    expect(cred.body.url).toBe("ws://control-1.example.net:1884/mqtt");
    expect(cred.body.username).toBe("dionysia.dashboard");
    const wsUrl = `ws://${control.address}:1884/mqtt`;
    expect(await wsConnack(wsUrl, cred.body.username, cred.body.password)).toBe(0);
    expect(await wsConnack(wsUrl, cred.body.username, "wrong-password-0123456789")).toBe(5);
  });

  test("the origins register with control over the deployed broker", async () => {
    await waitFor(
      "both origins online in GET /v1/nodes",
      async () => (await nodes()).filter((n) => n.state === "online").length === 2,
      90_000,
      500,
    );
    expect((await nodes()).map((n) => n.id).sort()).toEqual(["edge-fra-1", "edge-par-1"]);
  }, 120_000);

  test("the deployed control serves the API reference and the console from the release, nothing fetched", async () => {
    const base = `http://${host("control").address}:8080`;
    const scalar = await fetch(`${base}/swagger/assets/scalar.js`);
    expect(scalar.status).toBe(200);
    // Scalar's one prebuilt file, shipped in the release without its package's build-time tree.
    expect((await scalar.arrayBuffer()).byteLength).toBeGreaterThan(1_000_000);
    const page = await fetch(`${base}/console`);
    expect(page.status).toBe(200);
    const main = /src="([^"]+main-\w+\.js)"/.exec(await page.text())?.[1];
    expect((await fetch(`${base}${main}`)).status).toBe(200);
  });

  test("a push to the Paris origin plays through the deployed router, from another namespace", async () => {
    const created = await api<{ id: string; streamKey: string }>("/v1/streams", {
      method: "POST",
      json: { name: "deploy push", profileId: "builtin-360p", location: PARIS },
    });
    expect(created.status).toBe(201);
    const { id, streamKey } = created.body;
    const ing = await api<{ nodeId: string; ingest: { rtmp: string } }>(
      `/v1/streams/${id}/ingest?lat=${PARIS.lat}&lon=${PARIS.lon}`,
    );
    expect(ing.body.nodeId).toBe("edge-par-1");
    expect(ing.body.ingest.rtmp).toBe("rtmp://edge-par-1.example.net:1935/live");
    publisher = publishFrom(viewer, `${ing.body.ingest.rtmp}/${streamKey}`);
    await waitFor("the pushed stream through the router", () => plays(id), 60_000, 1000);
    const probe = await probeFrom(viewer, `${routerUrl}/live/${id}/master.m3u8`);
    expect(probe.streams.filter((s) => s.codec_type === "video").map((s) => s.height)).toContain(360);
    await publisher.stop();
    publisher = undefined;
    expect((await api(`/v1/streams/${id}`, { method: "DELETE" })).status).toBe(204);
  }, 120_000);

  let pullId = "";
  test("the Frankfurt origin dies: its pull stream moves to Paris and still plays", async () => {
    // The source is on the operator's network (the controller's address on it).
    source = await startHlsSource({ hostname: net.gateway });
    const created = await api<StreamView>("/v1/streams", {
      method: "POST",
      json: { name: "deploy pull", profileId: "builtin-360p", source: source.url, location: FRANKFURT },
    });
    expect(created.status).toBe(201);
    pullId = created.body.id;
    await waitFor(
      "the pull stream on edge-fra-1",
      async () => (await stream(pullId)).nodeId === "edge-fra-1",
      30_000,
    );
    await waitFor("the pull stream through the router", () => plays(pullId), 60_000, 1000);
    const fra = inits.get("edge-fra-1.example.net") as HostInit;
    await fra.crash();
    await waitFor(
      "the pull stream moved to edge-par-1",
      async () => (await stream(pullId)).nodeId === "edge-par-1",
      60_000,
      500,
    );
    await waitFor("the moved pull stream through the router", () => plays(pullId), 60_000, 1000);
    fra.boot();
    await waitFor(
      "edge-fra-1 back online",
      async () => (await nodes()).find((n) => n.id === "edge-fra-1")?.state === "online",
      60_000,
      500,
    );
  }, 300_000);

  test("a rollout of changed origin settings drains each origin before it restarts, one batch at a time", async () => {
    const changed = writeInventory(join(work, "changed.yml"), {
      groups: { origins: { log_level: "debug" } },
    });
    // What the operator would watch: each origin's drain flag and where the pull stream runs.
    const samples: { at: number; nodes: NodeView[]; on: string | null }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        try {
          samples.push({ at: Date.now(), nodes: await nodes(), on: (await stream(pullId)).nodeId });
        } catch {
          // control busy for a moment: the next sample
        }
        await Bun.sleep(250);
      }
    })();
    const before = new Map([...inits].map(([h, i]) => [h, i.restarts.length]));
    const run = await playbook([changed]);
    sampling = false;
    await sampler;
    expect(run.code).toBe(0);
    const origins = ["edge-par-1", "edge-fra-1"];
    const restartAt: Record<string, number> = {};
    for (const id of origins) {
      const init = inits.get(`${id}.example.net`) as HostInit;
      const served = init.restarts.slice(before.get(`${id}.example.net`));
      expect({ id, restarts: served.map((r) => r.name) }).toEqual({ id, restarts: ["dionysia-origin"] });
      restartAt[id] = (served[0] as { at: number }).at;
      // The last look before the restart: draining, and the pull stream elsewhere.
      const last = samples.filter((s) => s.at < restartAt[id]!).at(-1);
      const node = last?.nodes.find((n) => n.id === id);
      expect({ id, draining: node?.draining, streams: node?.load.streams, pullOn: last?.on === id }).toEqual({
        id,
        draining: true,
        streams: 0,
        pullOn: false,
      });
    }
    // Control and router kept running: only the origins' settings changed.
    for (const h of ["control-1.example.net", "router-1.example.net"])
      expect(inits.get(h)?.restarts.length).toBe(before.get(h));
    // Batches: the second origin was drained only after the first was back and undrained.
    const [first, second] = origins.sort((a, b) => restartAt[a]! - restartAt[b]!) as [string, string];
    const secondDrainedAt = samples.find((s) => s.nodes.find((n) => n.id === second)?.draining)?.at ?? 0;
    expect(secondDrainedAt).toBeGreaterThan(restartAt[first]!);
    await waitFor(
      "both origins online and undrained",
      async () => (await nodes()).filter((n) => n.state === "online" && !n.draining).length === 2,
      60_000,
      500,
    );
    await waitFor("the pull stream through the router after the rollout", () => plays(pullId), 60_000, 1000);
  }, 900_000);
});
