/**
 * docs/configuration.md must name every environment variable the services declare, so the page
 * cannot silently fall behind the code.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { controlConfigSpec } from "../../control/src/config.ts";
import { agentConfigSpecs } from "../../origin/src/agent/config.ts";
import { originConfigSpec } from "../../origin/src/config.ts";
import { mediaConfigSpec } from "../../origin/src/media/config.ts";
import { routerSpecs } from "../../router/src/config.ts";
import type { Specs } from "../src/config.ts";

const doc = readFileSync(join(import.meta.dir, "../../docs/configuration.md"), "utf8");

test("every declared environment variable is documented", () => {
  const specs: Specs[] = [
    controlConfigSpec,
    originConfigSpec,
    mediaConfigSpec,
    agentConfigSpecs,
    routerSpecs,
  ];
  const missing = specs
    .flatMap((s) => Object.values(s).map((v) => v.name))
    .filter((name) => !doc.includes(`\`${name}\``));
  expect(missing).toEqual([]);
});
