/**
 * One supervised ffmpeg process that feeds the local RTMP server (an SRT listener or a pull).
 * Restarts when it exits, with exponential back-off while it keeps failing fast; `stop()` kills it
 * and waits for it to be gone, so nothing outlives the media server.
 */
import type { Logger } from "@dionysia/shared";
import { execa, type ResultPromise } from "execa";
import { dieWithParent } from "../../process/die-with-parent.ts";
import { redactSecrets } from "./redact.ts";

export interface RelayProcessOptions {
  ffmpegPath: string;
  /** Fresh arguments per spawn (each spawn gets a new internal publish token). */
  args: () => string[];
  logger: Logger;
  /** First retry delay after a fast failure, doubled up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A run at least this long counts as healthy and resets the back-off. */
  healthyAfterMs?: number;
  /** Delay before restarting after a healthy run (e.g. an SRT publisher left). */
  restartDelayMs?: number;
  onSpawn?: (pid: number | undefined) => void;
  onExit?: (info: { code: number | undefined; signal: string | undefined; ranMs: number }) => void;
}

export class RelayProcess {
  private proc: ResultPromise | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private backoff: number;
  private readonly o: Required<Omit<RelayProcessOptions, "onSpawn" | "onExit">> &
    Pick<RelayProcessOptions, "onSpawn" | "onExit">;
  restarts = 0;

  constructor(opts: RelayProcessOptions) {
    this.o = {
      initialBackoffMs: 500,
      maxBackoffMs: 30_000,
      healthyAfterMs: 10_000,
      restartDelayMs: 100,
      ...opts,
    };
    this.backoff = this.o.initialBackoffMs;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  start(): void {
    if (this.stopped || this.proc) return;
    const started = Date.now();
    const args = this.o.args();
    const proc = execa(...dieWithParent(this.o.ffmpegPath, args), {
      reject: false,
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
      buffer: false,
      cleanup: true,
      forceKillAfterDelay: 2000,
    });
    this.proc = proc;
    this.o.onSpawn?.(proc.pid);
    const tail: string[] = [];
    proc.stderr?.setEncoding("utf8");
    proc.stderr?.on("data", (chunk: string) => {
      for (const line of chunk.split(/\r?\n|\r/)) {
        if (!line.trim()) continue;
        tail.push(redactSecrets(line).slice(0, 300));
        if (tail.length > 5) tail.shift();
      }
    });
    proc.then(
      (r) => this.exited(proc, started, r.exitCode, r.signal, tail),
      () => this.exited(proc, started, undefined, undefined, tail),
    );
  }

  private exited(
    proc: ResultPromise,
    started: number,
    code: number | undefined,
    signal: string | undefined,
    tail: string[],
  ): void {
    if (this.proc !== proc) return;
    this.proc = undefined;
    const ranMs = Date.now() - started;
    this.o.onExit?.({ code, signal, ranMs });
    if (this.stopped) return;
    let delay: number;
    if (ranMs >= this.o.healthyAfterMs) {
      this.backoff = this.o.initialBackoffMs;
      delay = this.o.restartDelayMs;
    } else {
      delay = this.backoff;
      this.backoff = Math.min(this.backoff * 2, this.o.maxBackoffMs);
    }
    this.o.logger.info({ code, signal, ranMs, retryInMs: delay, stderr: tail }, "relay process exited");
    this.restarts++;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.start();
    }, delay);
  }

  /** Kills the process (SIGTERM, SIGKILL after 2 s) and waits until it is gone. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const proc = this.proc;
    if (!proc) return;
    proc.kill("SIGTERM");
    await proc.catch(() => undefined);
  }
}
