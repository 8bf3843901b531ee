/**
 * External binaries and skips. A test whose binary is absent skips with a clear message, never
 * crashes: `requireBinary` finds the binary or records why the test is skipped. Each skip prints
 * `SKIP: <test>: <reason>` and, when DIONYSIA_SKIP_FILE is set (by `./dionysia test`), appends that
 * line to the file so the launcher can list every skip at the end of the run.
 */
import { accessSync, appendFileSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * sbin directories hold mosquitto and nginx but are often not on a non-root PATH. The launcher's
 * DIONYSIA_SBIN_PATH overrides them (empty: PATH only, to test what happens without a binary).
 */
function sbinDirs(): string[] {
  return (process.env.DIONYSIA_SBIN_PATH ?? "/usr/local/sbin:/usr/sbin:/sbin")
    .split(delimiter)
    .filter(Boolean);
}

/** Absolute path of an executable on PATH (or in the sbin directories), else undefined. */
export function findBinary(name: string, path = process.env.PATH ?? ""): string | undefined {
  const dirs = [...path.split(delimiter).filter(Boolean), ...sbinDirs()];
  for (const dir of dirs) {
    const file = join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Records that `test` is skipped and why (printed, and listed by `./dionysia test`). */
export function reportSkip(test: string, reason: string): void {
  const line = `SKIP: ${test}: ${reason}`;
  console.warn(line);
  const file = process.env.DIONYSIA_SKIP_FILE;
  if (file) {
    try {
      appendFileSync(file, `${line}\n`);
    } catch {
      // the list is a convenience; the printed line above is the record
    }
  }
}

/**
 * The binary's path, or undefined after reporting the skip of `test`. `install` is how to get it
 * (e.g. "apt-get install nginx"), shown in the skip reason.
 */
export function requireBinary(name: string, test: string, install: string): string | undefined {
  const bin = findBinary(name);
  if (!bin) reportSkip(test, `${name} is not installed (${install})`);
  return bin;
}

/** playwright-core (the browser tests' driver) runs on Node 20 or later: node's path, if it will. */
export function playwrightNode(): string | undefined {
  const node = findBinary("node");
  if (!node) return undefined;
  const r = Bun.spawnSync([node, "--version"], { stdout: "pipe", stderr: "ignore" });
  const major = Number(/^v(\d+)\./.exec(r.stdout.toString())?.[1] ?? 0);
  return major >= 20 ? node : undefined;
}
