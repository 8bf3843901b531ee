/**
 * Runs one transcoder process (execa) and turns its progress output into stats. The command line
 * holds the input URL, which may hold a stream key: it is never logged, and stderr lines are
 * redacted before they are kept or logged.
 */

import { rmSync } from "node:fs";
import type { Readable } from "node:stream";
import type { Logger } from "@dionysia/shared";
import { execa } from "execa";
import { dieWithParent } from "../process/die-with-parent.ts";
import { ProgressParser } from "./progress.ts";
import { redactLine } from "./redact.ts";
import type { CmafOutput, ProcessCommand, TranscoderStats } from "./types.ts";

export interface TranscoderExit {
  code: number | null;
  signal: string | null;
  /** Last stderr lines, redacted: the error a status message can carry. */
  stderrTail: string;
}

export interface RunningTranscoder {
  readonly pid: number | undefined;
  /** The extra output descriptors asked for (`RunOptions.pipes`), 3 upward, as byte streams. */
  readonly pipes: AsyncIterable<Uint8Array>[];
  readonly exited: Promise<TranscoderExit>;
  /** SIGTERM (lets the muxer finish its playlists), SIGKILL after `graceMs`. Resolves on exit. */
  stop(graceMs?: number): Promise<TranscoderExit>;
}

export interface RunOptions {
  /** The input URL: scrubbed from everything this module logs or returns. */
  secret: string;
  logger: Logger;
  onStats?: (s: TranscoderStats) => void;
  cwd?: string;
  /**
   * The CMAF chunk streams of a low-latency job: extra output pipes on descriptors 3, 4, …, or,
   * for outputs with a `fifo`, named pipes each read by a `cat` (it blocks in its own open until
   * the writer opens, never in ours, and ends at the writer's close).
   */
  cmaf?: readonly CmafOutput[];
}

const TAIL_LINES = 15;

export function runTranscoder(cmd: ProcessCommand, o: RunOptions): RunningTranscoder {
  const fifos = (o.cmaf ?? []).filter((c) => c.fifo);
  const fdPipes = fifos.length > 0 ? 0 : (o.cmaf?.length ?? 0);
  for (const c of fifos) {
    rmSync(c.fifo!, { force: true });
    const made = Bun.spawnSync(["mkfifo", "-m", "600", c.fifo!]);
    if (made.exitCode !== 0) throw new Error(`mkfifo ${c.fifo}: ${made.stderr.toString().trim()}`);
  }
  const readers = fifos.map((c) =>
    execa(...dieWithParent("cat", [c.fifo!]), {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "ignore",
      buffer: false,
      reject: false,
    }),
  );
  const sub = execa(...dieWithParent(cmd.cmd, cmd.args), {
    stdio: ["ignore", "pipe", "pipe", ...Array<"pipe">(fdPipes).fill("pipe")],
    buffer: false,
    reject: false,
    cleanup: true,
    cwd: o.cwd,
  });
  const tail: string[] = [];
  const parser = new ProgressParser();
  sub.stdout?.setEncoding("utf8");
  sub.stdout?.on("data", (chunk: string) => {
    for (const s of parser.push(chunk)) o.onStats?.(s);
  });
  let partial = "";
  sub.stderr?.setEncoding("utf8");
  sub.stderr?.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const raw of lines) {
      const line = redactLine(raw.trim(), o.secret);
      if (!line) continue;
      tail.push(line.slice(0, 400));
      if (tail.length > TAIL_LINES) tail.shift();
      o.logger.debug({ line }, "transcoder stderr");
    }
  });
  const exited: Promise<TranscoderExit> = sub.then(
    (r) => ({
      code: r.exitCode ?? null,
      signal: r.signal ?? null,
      stderrTail: tail.join("\n"),
    }),
    (err: unknown) => ({
      code: null,
      signal: null,
      stderrTail: redactLine(String((err as Error).message ?? err), o.secret),
    }),
  );
  const pipes =
    fifos.length > 0
      ? readers.map((r) => r.stdout as unknown as Readable)
      : Array.from({ length: fdPipes }, (_, i) => sub.stdio[3 + i] as unknown as Readable);
  // A writer that died before opening its pipe leaves its `cat` blocked in open: it goes too.
  void sub.finally(() => {
    const t = setTimeout(() => {
      for (const r of readers) r.kill("SIGKILL");
    }, 2000);
    void Promise.all(readers).finally(() => clearTimeout(t));
    for (const c of fifos) rmSync(c.fifo!, { force: true });
  });
  return {
    pid: sub.pid,
    pipes,
    exited,
    async stop(graceMs = 3000) {
      if (sub.exitCode === null && sub.signalCode === null) {
        sub.kill("SIGTERM");
        const timer = setTimeout(() => sub.kill("SIGKILL"), graceMs);
        const r = await exited;
        clearTimeout(timer);
        return r;
      }
      return exited;
    },
  };
}
