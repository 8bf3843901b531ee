/**
 * pino logger factory: JSON lines for machines, pretty output on a TTY.
 * Secrets are redacted by path so a stream key or API key never reaches a log.
 */
import pino, { type Logger } from "pino";
import pretty from "pino-pretty";

export type { Logger } from "pino";

const REDACT_PATHS = [
  "streamKey",
  "*.streamKey",
  "key",
  "*.key",
  "apiKey",
  "*.apiKey",
  "password",
  "*.password",
  "passphrase",
  "*.passphrase",
  "srtPassphrase",
  "*.srtPassphrase",
  "token",
  "*.token",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "req.headers.authorization",
];

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Extra fields on every line, e.g. nodeId. */
  base?: Record<string, unknown>;
  /** Force JSON or pretty; default: pretty when stdout is a TTY. */
  pretty?: boolean;
  destination?: pino.DestinationStream;
}

export function createLogger(o: LoggerOptions): Logger {
  const opts: pino.LoggerOptions = {
    level: o.level ?? process.env.LOG_LEVEL ?? "info",
    base: { service: o.service, ...o.base },
    redact: { paths: REDACT_PATHS, censor: "<redacted>" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (o.destination) return pino(opts, o.destination);
  const usePretty = o.pretty ?? Boolean(process.stdout.isTTY);
  // pino-pretty as a synchronous stream: no worker-thread transport, which behaves the same on Bun.
  if (usePretty) return pino(opts, pretty({ sync: true, colorize: true }));
  return pino(opts);
}
