/**
 * A real mosquitto on a free 127.0.0.1 port with a generated config (no persistence, so a
 * restart loses every retained message, as a real broker restart without persistence does).
 * node: built-ins only: the router suite runs this under Deno too.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findBinary, reportSkip } from "./binaries.ts";
import { canConnect, freePort } from "./ports.ts";
import { sleep, waitFor } from "./wait.ts";

/** mosquitto's path (Debian puts it in /usr/sbin), or undefined when it is not installed. */
export const MOSQUITTO = findBinary("mosquitto");
export const hasMosquitto = MOSQUITTO !== undefined;
export const MOSQUITTO_INSTALL = "apt-get install mosquitto";

export interface Mosquitto {
  url: string;
  port: number;
  /** SIGKILL (no clean shutdown); `restart()` starts it again on the same port. */
  kill(): Promise<void>;
  /** Starts again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startMosquitto(opts: { port?: number } = {}): Promise<Mosquitto> {
  const bin = MOSQUITTO;
  if (!bin) throw new Error(`mosquitto is not installed (${MOSQUITTO_INSTALL})`);
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "dionysia-mosq-"));
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      "persistence false",
      "log_dest stderr",
      "log_type error",
      "max_queued_messages 100000",
      "",
    ].join("\n"),
  );
  let child: ChildProcess | undefined;

  const launch = async () => {
    // Binding can briefly fail right after a kill: retry.
    let stderr = "";
    for (let attempt = 0; attempt < 20; attempt++) {
      const c = spawn(bin, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
      c.stderr?.on("data", (d) => {
        stderr += d;
      });
      let exited = false;
      c.once("exit", () => {
        exited = true;
      });
      try {
        await waitFor(`mosquitto on port ${port}`, async () => exited || (await canConnect(port)), 5000, 25);
      } catch (err) {
        c.kill("SIGKILL");
        throw err;
      }
      if (!exited) {
        child = c;
        return;
      }
      await sleep(100);
    }
    throw new Error(`mosquitto failed to start on port ${port}: ${stderr}`);
  };

  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGKILL");
    });
  };

  await launch();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    kill,
    restart: launch,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** True when mosquitto is installed; otherwise reports `test` as skipped and returns false. */
export function requireMosquitto(test: string): boolean {
  if (!hasMosquitto) reportSkip(test, `mosquitto is not installed (${MOSQUITTO_INSTALL})`);
  return hasMosquitto;
}
