/**
 * Test helpers: a real mosquitto on an ephemeral port (generated config, killed on stop),
 * and `waitFor` for condition polling instead of fixed sleeps.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const MOSQUITTO = "/usr/sbin/mosquitto";
export const hasMosquitto = existsSync(MOSQUITTO);

export async function waitFor<T>(
  cond: () => T | undefined | false | null | Promise<T | undefined | false | null>,
  timeoutMs = 10_000,
  what = "condition",
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = new Socket();
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
    sock.connect(port, "127.0.0.1");
  });
}

export interface Mosquitto {
  url: string;
  port: number;
  /** SIGKILL (no clean shutdown); the port can be reused by `restart()`. */
  kill(): Promise<void>;
  /** Starts again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startMosquitto(opts: { port?: number } = {}): Promise<Mosquitto> {
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
    // Bind can briefly fail right after a kill; retry a few times.
    for (let attempt = 0; attempt < 20; attempt++) {
      const c = spawn(MOSQUITTO, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      c.stderr?.on("data", (d) => {
        stderr += d;
      });
      let exited = false;
      c.once("exit", () => {
        exited = true;
      });
      try {
        await waitFor(async () => exited || (await canConnect(port)), 5000, `mosquitto on ${port}`);
      } catch (err) {
        c.kill("SIGKILL");
        throw err;
      }
      if (!exited) {
        child = c;
        return;
      }
      if (attempt === 19) throw new Error(`mosquitto failed to start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
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
