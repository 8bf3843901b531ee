/**
 * The services a test host was given, started as its systemd unit says (issue 12, ADR 0061):
 * the test hosts have no systemd, so the unit the playbook installed is read (ExecStartPre,
 * ExecStart, User, EnvironmentFile, WorkingDirectory, Restart, RestartSec) and run in the
 * host's network namespace and root, with what systemd gives a service (HOME, USER, PATH).
 * What runs is what was deployed; on a real host systemd runs the same unit.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { TestHost } from "./hosts.ts";

export interface Unit {
  execStartPre: string[][];
  execStart: string[];
  user?: string;
  environmentFiles: string[];
  workingDirectory?: string;
  restart: "no" | "always" | "on-failure";
  restartSec: number;
}

/** systemd's command-line splitting, for the plain words and double quotes our units use. */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => (m[1] ?? m[2]) as string);
}

export function parseUnit(text: string): Unit {
  const unit: Unit = {
    execStartPre: [],
    execStart: [],
    environmentFiles: [],
    restart: "no",
    restartSec: 0.1,
  };
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) {
      section = head[1] as string;
      continue;
    }
    if (section !== "Service") continue;
    const eq = line.indexOf("=");
    const key = line.slice(0, eq);
    // A leading "-" (ignore failure) or "@" is systemd syntax, not part of the command.
    const value = line.slice(eq + 1).replace(/^[-@]+/, "");
    if (key === "ExecStart") unit.execStart = words(value);
    else if (key === "ExecStartPre") unit.execStartPre.push(words(value));
    else if (key === "User") unit.user = value;
    else if (key === "EnvironmentFile") unit.environmentFiles.push(value);
    else if (key === "WorkingDirectory") unit.workingDirectory = value;
    else if (key === "Restart")
      unit.restart = value === "always" ? "always" : value === "no" ? "no" : "on-failure";
    else if (key === "RestartSec") unit.restartSec = Number.parseFloat(value);
  }
  if (!unit.execStart.length) throw new Error("unit has no ExecStart");
  return unit;
}

/** An EnvironmentFile: KEY=VALUE lines, comments and blank lines skipped, optional quotes. */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    env[line.slice(0, eq).trim()] = line
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, "$1");
  }
  return env;
}

export interface Service {
  name: string;
  /** The main process's pid now (changes on every restart). */
  pid(): number | undefined;
  /** Times (ms) of every start, the first included. */
  starts: number[];
  /** Start it (no-op when running). */
  start(): void;
  /** Stop it (SIGTERM to the main process, SIGKILL to the rest, as KillMode=mixed). */
  stop(): Promise<void>;
}

/** Where a unit is: the playbook's in /etc, a package's (Debian's mosquitto) in /lib. */
function unitPath(root: string, name: string): string | undefined {
  return ["etc/systemd/system", "lib/systemd/system"]
    .map((d) => join(root, d, `${name}.service`))
    .find((p) => existsSync(p));
}

/**
 * Run `name`'s unit in `host` and keep it running as systemd would (Restart=, RestartSec=).
 * Output goes to `log`. The process leads its own session, as a unit's cgroup would hold it.
 */
function unitService(host: TestHost, name: string, log: string): Service {
  const path = unitPath(host.root, name);
  if (!path) throw new Error(`${host.name}: no unit ${name}.service`);
  const unit = parseUnit(readFileSync(path, "utf8"));
  let proc: Subprocess | undefined;
  let wanted = false;
  const starts: number[] = [];

  const env = (): Record<string, string> => {
    const out: Record<string, string> = {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      LANG: "C.UTF-8",
    };
    if (unit.user) {
      const pw = readFileSync(join(host.root, "etc/passwd"), "utf8")
        .split("\n")
        .map((l) => l.split(":"))
        .find((f) => f[0] === unit.user);
      if (!pw) throw new Error(`${name}: user ${unit.user} does not exist on ${host.name}`);
      Object.assign(out, {
        USER: unit.user,
        LOGNAME: unit.user,
        HOME: pw[5] as string,
        SHELL: pw[6] as string,
      });
    }
    // systemd reads EnvironmentFile as root: the file is 0640 root:<service group>.
    for (const f of unit.environmentFiles)
      Object.assign(out, parseEnvFile(readFileSync(join(host.root, f), "utf8")));
    return out;
  };

  // setsid ip netns exec <ns> chroot [--userspec] <root> env -i [-C dir] K=V... argv (all exec:
  // the pid is the service's main pid).
  const inHost = (argv: string[], asUser: boolean, vars: Record<string, string>): string[] => [
    "setsid",
    "ip",
    "netns",
    "exec",
    host.netns,
    "chroot",
    ...(asUser && unit.user ? [`--userspec=${unit.user}:${unit.user}`] : []),
    host.root,
    "/usr/bin/env",
    "-i",
    ...(unit.workingDirectory ? ["-C", unit.workingDirectory] : []),
    ...Object.entries(vars).map(([k, v]) => `${k}=${v}`),
    ...argv,
  ];

  const launch = () => {
    const vars = env();
    // ExecStartPre runs as root here, as the units that prepare directories (Debian's mosquitto) need.
    for (const pre of unit.execStartPre) {
      const r = Bun.spawnSync(inHost(pre, false, vars), { stdout: "pipe", stderr: "pipe" });
      appendFileSync(log, `[pre ${pre.join(" ")}] exit ${r.exitCode} ${r.stderr.toString()}\n`);
    }
    starts.push(Date.now());
    appendFileSync(log, `\n=== ${new Date().toISOString()} start ${name} on ${host.name}\n`);
    const p = Bun.spawn(inHost(unit.execStart, true, vars), {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    proc = p;
    void pump(p.stdout as ReadableStream<Uint8Array>, log);
    void pump(p.stderr as ReadableStream<Uint8Array>, log);
    void p.exited.then((code) => {
      appendFileSync(log, `\n=== ${new Date().toISOString()} ${name} exited ${code}\n`);
      if (proc !== p) return;
      proc = undefined;
      const again = unit.restart === "always" || (unit.restart === "on-failure" && code !== 0);
      if (wanted && again) setTimeout(() => wanted && !proc && launch(), unit.restartSec * 1000);
    });
  };

  return {
    name,
    starts,
    pid: () => proc?.pid,
    start() {
      wanted = true;
      if (!proc) launch();
    },
    async stop() {
      wanted = false;
      const p = proc;
      proc = undefined;
      if (!p) return;
      p.kill("SIGTERM");
      const done = await Promise.race([p.exited.then(() => true), Bun.sleep(20_000).then(() => false)]);
      signalGroup(p.pid, "SIGKILL");
      if (!done) await p.exited;
    },
  };
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // already gone
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

async function pump(stream: ReadableStream<Uint8Array>, log: string): Promise<void> {
  for await (const chunk of stream) appendFileSync(log, chunk);
}

/** Where the restart command leaves its requests for the host's init (below). */
export const REQUEST_DIR = "/run/dionysia-test";
export const RESTART_COMMAND = "/usr/local/sbin/dionysia-test-restart";

/**
 * The host's service manager for the test: what systemd's `systemctl restart` does, asked for
 * by the playbook's restart command on hosts without systemd (dionysia_service_restart). The
 * command drops a request file and waits until it is served; the init starts the unit (or stops
 * and starts it when running), as `systemctl restart` would.
 */
export interface HostInit {
  host: TestHost;
  services: Map<string, Service>;
  /** Every restart request served, with its time. */
  restarts: { name: string; at: number }[];
  /** The host dies: every process whose root is the host's, SIGKILL, and nothing restarts. */
  crash(): Promise<void>;
  /** Boot after a crash: the services that ran before start again. */
  boot(): void;
  close(): Promise<void>;
}

export function hostInit(host: TestHost, logDir: string): HostInit {
  const dir = join(host.root, REQUEST_DIR);
  mkdirSync(dir, { recursive: true });
  mkdirSync(join(host.root, "usr/local/sbin"), { recursive: true });
  writeFileSync(
    join(host.root, RESTART_COMMAND),
    [
      "#!/bin/sh",
      "# deploy test: systemctl restart for the test's init (e2e/deploy/services.ts)",
      "set -e",
      `req=${REQUEST_DIR}/$1.restart`,
      'touch "$req"',
      "i=0",
      'while [ -e "$req" ]; do i=$((i+1)); [ $i -lt 600 ] || { echo "restart of $1 not served" >&2; exit 1; }; sleep 0.1; done',
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  const services = new Map<string, Service>();
  const restarts: HostInit["restarts"] = [];
  let down = false;
  let busy = false;
  const timer = setInterval(async () => {
    if (busy || down) return;
    busy = true;
    try {
      for (const f of readdirSync(dir).filter((n) => n.endsWith(".restart"))) {
        const name = f.slice(0, -".restart".length);
        let svc = services.get(name);
        if (!svc) {
          svc = unitService(host, name, join(logDir, `${host.name}-${name}.log`));
          services.set(name, svc);
        } else await svc.stop();
        svc.start();
        restarts.push({ name, at: Date.now() });
        rmSync(join(dir, f), { force: true });
      }
    } finally {
      busy = false;
    }
  }, 100);

  const inRoot = (): number[] =>
    readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .map(Number)
      .filter((pid) => {
        try {
          return readlinkSync(`/proc/${pid}/root`) === host.root;
        } catch {
          return false;
        }
      });

  return {
    host,
    services,
    restarts,
    async crash() {
      down = true;
      const stopping = [...services.values()].map((s) => s.stop());
      for (const pid of inRoot()) signalGroup(pid, "SIGKILL");
      for (const pid of inRoot()) kill(pid);
      await Promise.all(stopping);
    },
    boot() {
      down = false;
      for (const s of services.values()) s.start();
    },
    async close() {
      clearInterval(timer);
      down = true;
      await Promise.all([...services.values()].map((s) => s.stop()));
      for (const pid of inRoot()) kill(pid);
    },
  };
}
