/**
 * A group of child processes started together and stopped together: SIGTERM, then SIGKILL after a
 * grace period. Output lines are prefixed with the service name (or kept in memory for tests).
 */
import type { Subprocess } from "bun";

export interface ServiceSpec {
  name: string;
  cmd: string[];
  env: Record<string, string>;
  cwd?: string;
}

export interface RunningService {
  spec: ServiceSpec;
  proc: Subprocess;
  /** Last output lines, for diagnostics when something fails. */
  tail(): string[];
}

const COLORS = [35, 36, 33, 32, 34, 31];

export class ProcessGroup {
  readonly services: RunningService[] = [];
  private colorIdx = 0;

  constructor(private readonly opts: { echo: boolean }) {}

  start(spec: ServiceSpec): RunningService {
    const proc = Bun.spawn(spec.cmd, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdout: "pipe",
      stderr: "pipe",
      stdin: "ignore",
    });
    const lines: string[] = [];
    const color = COLORS[this.colorIdx++ % COLORS.length];
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
    const svc = { spec, proc, tail: () => lines.slice(-60) };
    this.services.push(svc);
    return svc;
  }

  /** Stops one service; `signal` SIGKILL simulates a host dying. */
  async stopOne(
    svc: RunningService,
    signal: "SIGTERM" | "SIGKILL" = "SIGTERM",
    graceMs = 8000,
  ): Promise<void> {
    if (svc.proc.exitCode !== null || svc.proc.signalCode !== null) return;
    svc.proc.kill(signal);
    const timer = setTimeout(() => svc.proc.kill("SIGKILL"), graceMs);
    await svc.proc.exited;
    clearTimeout(timer);
  }

  /** Stops everything in reverse start order. */
  async stopAll(graceMs = 8000): Promise<void> {
    for (const svc of [...this.services].reverse()) await this.stopOne(svc, "SIGTERM", graceMs);
  }
}
