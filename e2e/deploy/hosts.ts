/**
 * Test hosts for the ansible rollout (ADR 0061): one Debian 12 root filesystem made with
 * debootstrap (cached between runs), and per host an overlay of it, so every run starts from a
 * clean host in well under a second. Ansible reaches a host with community.general's chroot
 * connection; each host also gets its own network namespace and address on a veth pair, where
 * the services it was given are run (`services.ts`).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const CACHE = process.env.DIONYSIA_DEPLOY_CACHE ?? "/var/cache/dionysia-deploy";
const MIRROR = process.env.DIONYSIA_DEBIAN_MIRROR ?? "http://deb.debian.org/debian";
/** Downloaded into the base image's apt cache (not installed): the playbook installs them. */
const PREFETCH = ["ffmpeg", "mosquitto"];

export function sh(argv: string[], opts: { input?: string; env?: Record<string, string> } = {}): string {
  const r = Bun.spawnSync(argv, {
    stdin: opts.input === undefined ? "ignore" : Buffer.from(opts.input),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...opts.env },
  });
  if (r.exitCode !== 0)
    throw new Error(`${argv.join(" ")} exited ${r.exitCode}: ${r.stderr.toString().slice(-2000)}`);
  return r.stdout.toString();
}

/** The base root filesystem, built once: debootstrap, no service starts, apt lists and the media
 * packages' .debs in its cache (a local mirror, so each run does not download them again). */
export function baseImage(log: (s: string) => void): string {
  const base = join(CACHE, "bookworm");
  if (existsSync(join(base, ".dionysia-complete"))) return base;
  rmSync(base, { recursive: true, force: true });
  mkdirSync(CACHE, { recursive: true });
  log(`building the Debian 12 base image in ${base} (debootstrap, about 1-2 min)`);
  sh(["debootstrap", "--variant=minbase", "--include=python3,ca-certificates", "bookworm", base, MIRROR]);
  // As in Debian's container images: packages installed in a host start no daemon there.
  writeFileSync(join(base, "usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  writeFileSync(join(base, "etc/apt/sources.list"), `deb ${MIRROR} bookworm main\n`);
  withProc(base, () => {
    sh(["chroot", base, "apt-get", "update", "-qq"]);
    sh(
      [
        "chroot",
        base,
        "apt-get",
        "install",
        "-qq",
        "--download-only",
        "--no-install-recommends",
        ...PREFETCH,
      ],
      {
        env: { DEBIAN_FRONTEND: "noninteractive" },
      },
    );
  });
  writeFileSync(join(base, ".dionysia-complete"), `${new Date().toISOString()}\n`);
  return base;
}

function withProc<T>(root: string, fn: () => T): T {
  sh(["mount", "-t", "proc", "proc", join(root, "proc")]);
  try {
    return fn();
  } finally {
    sh(["umount", "-l", join(root, "proc")]);
  }
}

export interface TestHost {
  name: string;
  /** The host's root filesystem (ansible_host for the chroot connection). */
  root: string;
  /** Its network namespace and address. */
  netns: string;
  address: string;
}

export interface TestNetwork {
  hosts: TestHost[];
  /** The test network's addresses, e.g. 10.77.0.0/16 (pull sources and relays live there). */
  cidr: string;
  /** The controller's address on the test network (the root namespace's end of each veth). */
  gateway: string;
  destroy(): void;
}

/**
 * Overlays of the base, one per name, each in its own network namespace 10.77.N.2 with the
 * controller at 10.77.N.1; every host's /etc/hosts names every other one, as DNS would.
 */
export function makeHosts(names: string[], base: string): TestNetwork {
  // The first 10.N/16 no interface uses yet: a second test network (a concurrent run) gets its own.
  const used = sh(["ip", "-o", "-4", "addr"]);
  const octet = [77, 78, 79, 80, 81, 82, 83, 84, 85, 86].find((n) => !used.includes(` 10.${n}.`));
  if (octet === undefined) throw new Error("no free 10.N.0.0/16 for the test network");
  const net = (i: number, h: number) => `10.${octet}.${i + 1}.${h}`;
  const dir = mkdtempSync(join(tmpdir(), "dionysia-deploy-"));
  const tag = dir.slice(-6).replace(/[^A-Za-z0-9]/g, "x");
  const hosts: TestHost[] = [];
  const undo: (() => void)[] = [];
  const destroy = () => {
    for (const u of undo.reverse()) {
      try {
        u();
      } catch {
        // best effort: the rest still has to go
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    names.forEach((name, i) => {
      const h = join(dir, name);
      for (const d of ["upper", "work", "root"]) mkdirSync(join(h, d), { recursive: true });
      const root = join(h, "root");
      sh([
        "mount",
        "-t",
        "overlay",
        "overlay",
        "-o",
        `lowerdir=${base},upperdir=${h}/upper,workdir=${h}/work`,
        root,
      ]);
      undo.push(() => sh(["umount", "-l", root]));
      sh(["mount", "-t", "proc", "proc", join(root, "proc")]);
      undo.push(() => sh(["umount", "-l", join(root, "proc")]));
      sh(["mount", "--bind", "/dev", join(root, "dev")]);
      undo.push(() => sh(["umount", "-l", join(root, "dev")]));
      const netns = `dion-${tag}-${i}`;
      const veth = `dv${tag.slice(-4)}${i}`;
      sh(["ip", "netns", "add", netns]);
      undo.push(() => sh(["ip", "netns", "del", netns]));
      sh(["ip", "link", "add", veth, "type", "veth", "peer", "name", `${veth}p`]);
      undo.push(() => sh(["ip", "link", "del", veth]));
      sh(["ip", "link", "set", `${veth}p`, "netns", netns]);
      sh(["ip", "addr", "add", `${net(i, 1)}/24`, "dev", veth]);
      sh(["ip", "link", "set", veth, "up"]);
      const inNs = (...argv: string[]) => sh(["ip", "netns", "exec", netns, ...argv]);
      inNs("ip", "addr", "add", `${net(i, 2)}/24`, "dev", `${veth}p`);
      inNs("ip", "link", "set", `${veth}p`, "up");
      inNs("ip", "link", "set", "lo", "up");
      inNs("ip", "route", "add", "default", "via", net(i, 1));
      hosts.push({ name, root, netns, address: net(i, 2) });
    });
    // Hosts reach each other through the controller's namespace (routing between the veths).
    const forward = "/proc/sys/net/ipv4/ip_forward";
    const before = readFileSync(forward, "utf8");
    writeFileSync(forward, "1\n");
    undo.push(() => writeFileSync(forward, before));
    const table = hosts.map((h) => `${h.address} ${h.name}`).join("\n");
    for (const h of hosts) {
      writeFileSync(join(h.root, "etc/hosts"), `127.0.0.1 localhost\n${table}\n`);
      writeFileSync(join(h.root, "etc/hostname"), `${h.name}\n`);
      // What `ip netns exec` binds over /etc/hosts: a tool of the controller's run in a host's
      // namespace (ffmpeg publishing, ffprobe watching) resolves the names too.
      const etc = join("/etc/netns", h.netns);
      mkdirSync(etc, { recursive: true });
      undo.push(() => rmSync(etc, { recursive: true, force: true }));
      writeFileSync(join(etc, "hosts"), `127.0.0.1 localhost\n${table}\n`);
    }
    return { hosts, cidr: `10.${octet}.0.0/16`, gateway: net(0, 1), destroy };
  } catch (err) {
    destroy();
    throw err;
  }
}

/**
 * A Node.js as NodeSource ships it: a `nodejs` package that provides npm itself and conflicts
 * with Debian's `npm` (the conflict that broke the old playbook's first task). Built with
 * dpkg-deb and installed and held on the host, as on many real servers.
 */
export function installNodeSourceLikeNode(host: TestHost): void {
  const pkg = mkdtempSync(join(tmpdir(), "nodesource-"));
  try {
    mkdirSync(join(pkg, "DEBIAN"));
    mkdirSync(join(pkg, "usr/share/doc/nodejs"), { recursive: true });
    writeFileSync(
      join(pkg, "DEBIAN/control"),
      [
        "Package: nodejs",
        "Version: 20.19.0-1nodesource1",
        "Architecture: all",
        "Maintainer: test <test@example.invalid>",
        "Provides: nodejs-dev, nodejs-doc, npm",
        "Conflicts: nodejs-dev, nodejs-doc, npm, libnode-dev",
        "Replaces: nodejs-dev, nodejs-doc, npm",
        "Description: stand-in for NodeSource's nodejs package (deploy test)",
        "",
      ].join("\n"),
    );
    writeFileSync(join(pkg, "usr/share/doc/nodejs/README"), "NodeSource-like test package\n");
    const deb = join(host.root, "tmp/nodejs-nodesource.deb");
    sh(["dpkg-deb", "--build", "--root-owner-group", pkg, deb]);
    sh(["chroot", host.root, "dpkg", "-i", "/tmp/nodejs-nodesource.deb"]);
    sh(["chroot", host.root, "apt-mark", "hold", "nodejs"]);
  } finally {
    rmSync(pkg, { recursive: true, force: true });
  }
}
