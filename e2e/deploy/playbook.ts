/**
 * Running site.yml against the test hosts (ADR 0061): the example inventory as shipped, plus a
 * test inventory that says only how ansible reaches each host (chroot connection) and what an
 * operator would set for this network. The controller resolves the hosts' names as DNS would,
 * through an /etc/hosts bound in its own mount namespace (the handlers call control's API and
 * the origins' health by name).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestNetwork } from "./hosts.ts";

export const REPO = join(import.meta.dir, "../..");
export const ANSIBLE = join(REPO, "ansible");

export interface Recap {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
}

export interface PlaybookRun {
  out: string;
  recap: Record<string, Recap>;
  code: number;
  seconds: number;
}

export function recap(out: string): Record<string, Recap> {
  const hosts: Record<string, Recap> = {};
  for (const m of out.matchAll(/^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm))
    hosts[m[1] as string] = { ok: +m[2]!, changed: +m[3]!, unreachable: +m[4]!, failed: +m[5]! };
  return hosts;
}

export interface Secrets {
  adminKey: string;
  dashboardPassword: string;
  file: string;
}

/** The vault variables (group_vars/all.yml), as an operator's vault file would hold them. */
export function writeSecrets(work: string): Secrets {
  const secret = (n: string) => `${n}-${crypto.randomUUID()}`;
  const adminKey = `dk_${crypto.randomUUID().replaceAll("-", "")}`;
  const dashboardPassword = secret("mqtt-dashboard");
  const file = join(work, "secrets.yml");
  writeFileSync(
    file,
    [
      `vault_dionysia_node_key: ${secret("node")}`,
      `vault_dionysia_router_key: ${secret("router")}`,
      `vault_dionysia_admin_key: ${adminKey}`,
      `vault_dionysia_mqtt_node_secret: ${secret("mqtt-node")}`,
      `vault_dionysia_mqtt_router_password: ${secret("mqtt-router")}`,
      `vault_dionysia_mqtt_control_password: ${secret("mqtt-control")}`,
      `vault_dionysia_mqtt_dashboard_password: ${dashboardPassword}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  return { adminKey, dashboardPassword, file };
}

/** A YAML (JSON) inventory: per host how to reach it; vars for all hosts and per group. */
export function writeInventory(
  path: string,
  inv: {
    hosts?: Record<string, Record<string, unknown>>;
    vars?: Record<string, unknown>;
    groups?: Record<string, Record<string, unknown>>;
  },
): string {
  const children = Object.fromEntries(Object.entries(inv.groups ?? {}).map(([g, vars]) => [g, { vars }]));
  writeFileSync(
    path,
    `${JSON.stringify({ all: { hosts: inv.hosts ?? {}, vars: inv.vars ?? {}, children } }, null, 2)}\n`,
  );
  return path;
}

/** How ansible reaches the test hosts, and the restart command a host without systemd gets. */
export function testHostsInventory(work: string, net: TestNetwork, restart: string): string {
  return writeInventory(join(work, "test-hosts.yml"), {
    hosts: Object.fromEntries(net.hosts.map((h) => [h.name, { ansible_host: h.root }])),
    vars: {
      ansible_connection: "community.general.chroot",
      ansible_python_interpreter: "/usr/bin/python3",
      // Already root inside the chroot: no sudo on a minimal Debian.
      ansible_become: false,
      dionysia_service_restart: `${restart} {service}`,
      // The test's pull source and the origins' relays are on this private network.
      pull_allow_cidrs: net.cidr,
    },
    groups: {
      // A fixed capacity: two origins calibrating at once on a 2-core CI machine measure noise.
      origins: { dionysia_extra_env: { ORIGIN_CAPACITY_UNITS: "200" } },
    },
  });
}

export async function runPlaybook(
  work: string,
  net: TestNetwork,
  secrets: Secrets,
  inventories: string[],
): Promise<PlaybookRun> {
  const hostsFile = join(work, "controller-hosts");
  writeFileSync(
    hostsFile,
    `${readFileSync("/etc/hosts", "utf8")}\n# deploy test hosts\n${net.hosts.map((h) => `${h.address} ${h.name}`).join("\n")}\n`,
  );
  for (const d of ["ansible-home", "ansible-tmp"]) mkdirSync(join(work, d), { recursive: true });
  const t0 = performance.now();
  const p = Bun.spawn(
    [
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "--",
      "sh",
      "-c",
      'mount --bind "$1" /etc/hosts && shift && exec "$@"',
      "sh",
      hostsFile,
      "ansible-playbook",
      "-i",
      join(ANSIBLE, "inventory.example.ini"),
      ...inventories.flatMap((i) => ["-i", i]),
      "-e",
      `@${secrets.file}`,
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
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  const out = `${stdout}${stderr}`;
  return { out, recap: recap(out), code, seconds: (performance.now() - t0) / 1000 };
}
