/** A real mosquitto broker on a free loopback port, for tests and benchmarks. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./wait.ts";

export interface Mosquitto {
  url: string;
  port: number;
  /** Kills the broker (SIGKILL: no clean shutdown, retained messages lost) and starts a new one on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function mosquittoBin(): string {
  return (
    Bun.which("mosquitto") ?? Bun.which("mosquitto", { PATH: "/usr/sbin:/sbin" }) ?? "/usr/sbin/mosquitto"
  );
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export async function startMosquitto(port?: number): Promise<Mosquitto> {
  const p = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "dionysia-mosquitto-"));
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(conf, `listener ${p} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const spawn = async () => {
    const proc = Bun.spawn([mosquittoBin(), "-c", conf], { stdout: "ignore", stderr: "pipe" });
    await waitFor(`mosquitto on ${p}`, () => portOpen(p), 10_000, 50);
    return proc;
  };
  let proc = await spawn();
  return {
    url: `mqtt://127.0.0.1:${p}`,
    port: p,
    async restart() {
      proc.kill("SIGKILL");
      await proc.exited;
      proc = await spawn();
    },
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
