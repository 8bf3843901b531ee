/**
 * The ansible rollout stays in step with the services: every variable its env templates set is one
 * the service declares (a typo would be silently ignored on the host), every required variable is
 * set, and the playbook passes `ansible-playbook --syntax-check` when ansible is installed.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { controlConfigSpec } from "../../control/src/config.ts";
import { agentConfigSpecs } from "../../origin/src/agent/config.ts";
import { originConfigSpec } from "../../origin/src/config.ts";
import { mediaConfigSpec } from "../../origin/src/media/config.ts";
import { routerSpecs } from "../../router/src/config.ts";
import type { Specs } from "../../shared/src/config.ts";
import { requireBinary } from "../../shared/src/testkit/index.ts";

const ROLES = join(import.meta.dir, "../../ansible/roles");

function templateVars(service: string): string[] {
  const text = readFileSync(join(ROLES, service, "templates", `${service}.env.j2`), "utf8");
  return [...text.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] as string);
}

const services: Record<string, Specs[]> = {
  control: [controlConfigSpec],
  origin: [originConfigSpec, mediaConfigSpec, agentConfigSpecs],
  router: [routerSpecs],
};

describe("ansible env templates", () => {
  for (const [service, specs] of Object.entries(services)) {
    test(`${service}: every variable is declared, every required one is set`, () => {
      const vars = templateVars(service);
      const declared = new Set(specs.flatMap((s) => Object.values(s).map((v) => v.name)));
      expect(vars.filter((v) => !declared.has(v))).toEqual([]);
      const required = specs.flatMap((s) =>
        Object.values(s)
          .filter((v) => v.default === undefined && !v.optional)
          .map((v) => v.name),
      );
      expect(required.filter((r) => !vars.includes(r))).toEqual([]);
    });
  }
});

const playbook = requireBinary(
  "ansible-playbook",
  "e2e/test/ansible.test.ts (ansible-playbook --syntax-check)",
  "apt-get install ansible-core",
);

test.skipIf(!playbook)("ansible-playbook --syntax-check passes", () => {
  const dir = join(import.meta.dir, "../../ansible");
  const r = Bun.spawnSync(
    [playbook as string, "-i", join(dir, "inventory.example.ini"), "--syntax-check", join(dir, "site.yml")],
    {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, ANSIBLE_LOCAL_TEMP: "/tmp", ANSIBLE_HOME: "/tmp/ansible-home" },
    },
  );
  expect({ code: r.exitCode, err: r.stderr.toString().slice(-500) }).toEqual({
    code: 0,
    err: expect.any(String),
  });
});

const lint = requireBinary(
  "ansible-lint",
  "e2e/test/ansible.test.ts (ansible-lint)",
  "apt-get install ansible-lint",
);

// Debian's ansible-lint with its default profile, offline (no Galaxy on edge networks or here).
test.skipIf(!lint)(
  "ansible-lint reports nothing on the playbook",
  () => {
    const dir = join(import.meta.dir, "../../ansible");
    const r = Bun.spawnSync([lint as string, "--offline", "--nocolor", "site.yml"], {
      cwd: dir,
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, ANSIBLE_LOCAL_TEMP: "/tmp", ANSIBLE_HOME: "/tmp/ansible-home", NO_COLOR: "1" },
    });
    const out = `${r.stdout.toString()}${r.stderr.toString()}`;
    expect({ code: r.exitCode, findings: out.match(/^\S+:\d+: .*$/gm) ?? [] }).toEqual({
      code: 0,
      findings: [],
    });
  },
  120_000,
);
