/**
 * Runs one transcoder process (execa) and turns its progress output into stats. The command line
 * holds the input URL, which may hold a stream key: it is never logged, and stderr lines are
 * redacted before they are kept or logged.
 */

import type { Readable } from "node:stream";
import type { Logger } from "@dionysia/shared";
import { execa } from "execa";
import { dieWithParent } from "../process/die-with-parent.ts";
import { openFifoChunks } from "./fifo-stream.ts";
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
  /** The CMAF chunk streams of a low-latency job: extra output pipes on descriptors 3, 4, …. */
  cmaf?: readonly CmafOutput[];
}

const TAIL_LINES = 15;

export function runTranscoder(cmd: ProcessCommand, o: RunOptions): RunningTranscoder {
  // Outputs the back end opens by name (a FIFO each) are made before it starts; the others are
  // inherited descriptors 3, 4, ….
  const cmaf = o.cmaf ?? [];
  const fifos = new Map(cmaf.flatMap((c) => (c.fifo ? [[c.fd, openFifoChunks(c.fifo)] as const] : [])));
  const sub = execa(...dieWithParent(cmd.cmd, cmd.args), {
    stdio: ["ignore", "pipe", "pipe", ...cmaf.map((c) => (c.fifo ? "ignore" : "pipe"))],
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
  const closeFifos = () => {
    for (const f of fifos.values()) f.close();
  };
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
  // A FIFO nobody opened (the process died first) ends its stream with the process.
  void exited.then(closeFifos);
  const pipes = cmaf.map((c, i) => fifos.get(c.fd)?.chunks ?? (sub.stdio[3 + i] as unknown as Readable));
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
