/**
 * A group of child processes started together and stopped together: SIGTERM, then SIGKILL after a
 * grace period. Output lines are prefixed with the service name (or kept in memory for tests).
 * `supervise()` (used by `./dionysia up`) restarts a child that exits on its own, with back-off;
 * the e2e tests do not supervise, so a killed origin stays dead there, as a dead host would.
 */
import type { Subprocess } from "bun";

export interface ServiceSpec {
  name: string;
  cmd: string[];
  env: Record<string, string>;
  cwd?: string;
  /** Called before a restart (e.g. to kill what the dead process left behind). */
  beforeRestart?: () => void;
}

export interface RunningService {
  spec: ServiceSpec;
  /** The current process; replaced when the service is restarted. */
  proc: Subprocess;
  restarts: number;
  /** Last output lines, for diagnostics when something fails. */
  tail(): string[];
}

export interface RestartPolicy {
  initialMs: number;
  maxMs: number;
  /** A child up this long counts as healthy again: its back-off starts over. */
  resetAfterMs: number;
}

export const DEFAULT_RESTART: RestartPolicy = { initialMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 };

/** Back-off before restart number `attempt` (0-based): initial × 2^attempt, capped. */
export function restartDelay(attempt: number, p: RestartPolicy = DEFAULT_RESTART): number {
  return Math.min(p.maxMs, p.initialMs * 2 ** Math.max(0, attempt));
}

/** How a process ended, in words: "code 1" or "signal SIGKILL". */
export function exitDescription(proc: Subprocess): string {
  return proc.signalCode ? `signal ${proc.signalCode}` : `code ${proc.exitCode}`;
}

const COLORS = [35, 36, 33, 32, 34, 31];

export class ProcessGroup {
  readonly services: RunningService[] = [];
  private colorIdx = 0;
  private stopping = false;
  /** Each service's output buffer and colour, kept across restarts. */
  private readonly io = new Map<RunningService, { lines: string[]; color: number }>();

  constructor(private readonly opts: { echo: boolean; log?: (line: string) => void }) {}

  start(spec: ServiceSpec): RunningService {
    if (this.stopping) throw new Error(`not starting ${spec.name}: the group is stopping`);
    const lines: string[] = [];
    const color = COLORS[this.colorIdx++ % COLORS.length] as number;
    const svc: RunningService = {
      spec,
      proc: this.spawn(spec, lines, color),
      restarts: 0,
      tail: () => lines.slice(-60),
    };
    this.io.set(svc, { lines, color });
    this.services.push(svc);
    return svc;
  }

  private spawn(spec: ServiceSpec, lines: string[], color: number): Subprocess {
    const proc = Bun.spawn(spec.cmd, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdout: "pipe",
      stderr: "pipe",
      stdin: "ignore",
    });
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const decoder = new TextDecoder();
      let buf = "";
      for await (const chunk of stream) {
        buf += decoder.decode(chunk, { stream: true });
        let nl = buf.indexOf("\n");
        while (nl >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          lines.push(line);
          if (lines.length > 400) lines.shift();
          if (this.opts.echo) process.stdout.write(`\x1b[${color}m${spec.name.padEnd(8)}|\x1b[0m ${line}\n`);
          nl = buf.indexOf("\n");
        }
      }
    };
    void pump(proc.stdout as ReadableStream<Uint8Array>);
    void pump(proc.stderr as ReadableStream<Uint8Array>);
    return proc;
  }

  /**
   * Restarts every service that exits while the group is not stopping, after a back-off that
   * doubles per crash (reset once it has stayed up `resetAfterMs`), with a log line naming it and
   * how it ended. Runs until `stopAll()`.
   */
  supervise(policy: RestartPolicy = DEFAULT_RESTART): void {
    const log = this.opts.log ?? ((line: string) => console.error(line));
    for (const svc of this.services) {
      const watch = async () => {
        let attempt = 0;
        while (!this.stopping) {
          const startedAt = Date.now();
          const proc = svc.proc;
          await proc.exited;
          if (this.stopping) return;
          if (Date.now() - startedAt >= policy.resetAfterMs) attempt = 0;
          const delay = restartDelay(attempt++, policy);
          log(
            `${svc.spec.name} exited (${exitDescription(proc)}); restarting in ${(delay / 1000).toFixed(1)} s (restart #${svc.restarts + 1})`,
          );
          await new Promise((r) => setTimeout(r, delay));
          if (this.stopping) return;
          svc.spec.beforeRestart?.();
          const io = this.io.get(svc) ?? { lines: [], color: 0 };
          svc.proc = this.spawn(svc.spec, io.lines, io.color);
          svc.restarts++;
        }
      };
      void watch();
    }
  }

  /** Stops one service; `signal` SIGKILL simulates a host dying. */
  async stopOne(
    svc: RunningService,
    signal: "SIGTERM" | "SIGKILL" = "SIGTERM",
    graceMs = 8000,
  ): Promise<void> {
    const proc = svc.proc;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
    await proc.exited;
    clearTimeout(timer);
  }

  /** Stops everything in reverse start order (and any supervision with it). */
  async stopAll(graceMs = 8000): Promise<void> {
    this.stopping = true;
    for (const svc of [...this.services].reverse()) await this.stopOne(svc, "SIGTERM", graceMs);
  }
}
