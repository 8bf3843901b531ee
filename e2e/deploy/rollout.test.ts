/**
 * The ansible rollout, run for real (issue 12, ADR 0061): Debian 12 test hosts (debootstrap, one
 * overlay each, own network namespace), the playbook from a clean state with the example
 * inventory, then again: the second run changes nothing. Runs in the deploy stage of CI
 * (`./dionysia test-deploy`, as root); elsewhere it says why it skipped.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findBinary, reportSkip } from "../../shared/src/testkit/index.ts";
import { baseImage, installNodeSourceLikeNode, makeHosts, sh, type TestNetwork } from "./hosts.ts";

const REPO = join(import.meta.dir, "../..");
const ANSIBLE = join(REPO, "ansible");
const NAME = "e2e/deploy/rollout.test.ts";

function why(): string | undefined {
  if (process.env.DIONYSIA_DEPLOY_TEST !== "1") return "runs in the deploy stage (./dionysia test-deploy)";
  if (process.getuid?.() !== 0) return "needs root (overlay mounts, network namespaces)";
  for (const b of ["debootstrap", "ansible-playbook", "ip", "dpkg-deb"])
    if (!findBinary(b)) return `${b} is not installed (apt-get install debootstrap ansible iproute2)`;
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

interface Recap {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
}

function recap(out: string): Record<string, Recap> {
  const hosts: Record<string, Recap> = {};
  for (const m of out.matchAll(/^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm))
    hosts[m[1] as string] = { ok: +m[2]!, changed: +m[3]!, unreachable: +m[4]!, failed: +m[5]! };
  return hosts;
}

const NAMES = [
  "control-1.example.net",
  "edge-par-1.example.net",
  "edge-fra-1.example.net",
  "router-1.example.net",
];

describe.skipIf(skip !== undefined)("ansible rollout on Debian 12 test hosts", () => {
  let net: TestNetwork;
  let work: string;
  const runs: { out: string; recap: Record<string, Recap>; code: number; seconds: number }[] = [];

  function playbook(): (typeof runs)[number] {
    const t0 = performance.now();
    const r = Bun.spawnSync(
      [
        "ansible-playbook",
        "-i",
        join(ANSIBLE, "inventory.example.ini"),
        "-i",
        join(work, "test-hosts.ini"),
        "-e",
        `@${join(work, "secrets.yml")}`,
        join(ANSIBLE, "site.yml"),
      ],
      {
        cwd: ANSIBLE,
        stdout: "pipe",
        stderr: "pipe",
        env: {
          ...process.env,
          ANSIBLE_HOME: join(work, "ansible-home"),
          ANSIBLE_LOCAL_TEMP: join(work, "ansible-tmp"),
          ANSIBLE_NOCOLOR: "1",
          ANSIBLE_FORKS: "4",
        },
      },
    );
    const out = `${r.stdout.toString()}${r.stderr.toString()}`;
    const run = { out, recap: recap(out), code: r.exitCode, seconds: (performance.now() - t0) / 1000 };
    console.log(`ansible-playbook run ${runs.length + 1}: exit ${run.code} in ${run.seconds.toFixed(0)} s`);
    if (run.code !== 0) console.log(out.slice(-6000));
    runs.push(run);
    return run;
  }

  beforeAll(() => {
    const base = baseImage((s) => console.log(s));
    net = makeHosts(NAMES, base);
    work = mkdtempSync(join(tmpdir(), "dionysia-rollout-"));
    // What only the test adds: how ansible reaches each host (the example inventory is as is).
    writeFileSync(
      join(work, "test-hosts.ini"),
      [
        ...net.hosts.map((h) => `${h.name} ansible_host=${h.root}`),
        "",
        "[all:vars]",
        "ansible_connection=community.general.chroot",
        "ansible_python_interpreter=/usr/bin/python3",
        // Already root inside the chroot: no sudo on a minimal Debian.
        "ansible_become=false",
        "",
      ].join("\n"),
    );
    const secret = (n: string) => `${n}-${crypto.randomUUID()}`;
    writeFileSync(
      join(work, "secrets.yml"),
      [
        `vault_dionysia_node_key: ${secret("node")}`,
        `vault_dionysia_router_key: ${secret("router")}`,
        `vault_dionysia_admin_key: ${secret("admin")}`,
        `vault_dionysia_mqtt_node_secret: ${secret("mqtt-node")}`,
        `vault_dionysia_mqtt_router_password: ${secret("mqtt-router")}`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const fra = net.hosts.find((h) => h.name.startsWith("edge-fra"));
    if (fra) installNodeSourceLikeNode(fra);
  }, 600_000);

  afterAll(() => net?.destroy());

  test("the first run from a clean state succeeds on every host", () => {
    const run = playbook();
    expect(Object.keys(run.recap).sort()).toEqual([...NAMES].sort());
    for (const [host, r] of Object.entries(run.recap))
      expect({ host, failed: r.failed, unreachable: r.unreachable }).toEqual({
        host,
        failed: 0,
        unreachable: 0,
      });
    expect(run.code).toBe(0);
  }, 900_000);

  test("each host has the release, its unit and its env file (secrets 0640)", () => {
    const commit = sh(["git", "-C", REPO, "rev-parse", "--short=12", "HEAD"]).trim();
    const role = (n: string) => (n.startsWith("edge") ? "origin" : n.split("-")[0]);
    for (const h of net.hosts) {
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
    const fra = net.hosts.find((h) => h.name.startsWith("edge-fra")) as (typeof net.hosts)[number];
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
    const status = sh(["chroot", fra.root, "dpkg-query", "-W", "-f", "${Version}", "nodejs"]);
    expect(status).toBe("20.19.0-1nodesource1");
  });

  test("the second run changes nothing", () => {
    const run = playbook();
    const changed = Object.fromEntries(Object.entries(run.recap).map(([h, r]) => [h, r.changed + r.failed]));
    expect(changed).toEqual(Object.fromEntries(NAMES.map((n) => [n, 0])));
    expect(run.code).toBe(0);
  }, 900_000);
});
