/** The local dev state of `./dionysia up`: generated credentials and the default stream. */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { newApiKey, randomBase62 } from "../../shared/src/index.ts";

export interface DevState {
  adminKey: string;
  nodeKey: string;
  routerKey: string;
  demo?: { id: string; streamKey: string; srtPassphrase?: string };
  ports?: Record<string, number>;
}

export function loadDevState(file: string): DevState | undefined {
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as DevState;
}

export function loadOrCreateDevState(file: string): DevState {
  const existing = loadDevState(file);
  if (existing) return existing;
  const state: DevState = {
    adminKey: newApiKey(),
    nodeKey: `nk_${randomBase62(40)}`,
    routerKey: `rk_${randomBase62(40)}`,
  };
  saveDevState(file, state);
  return state;
}

export function saveDevState(file: string, state: DevState): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}
