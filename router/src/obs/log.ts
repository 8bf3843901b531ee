/**
 * A tiny JSON-lines logger on `console` (ADR 0052): pino relies on Node streams and worker
 * threads that edge runtimes lack, and the router logs little (start, table changes, drops).
 * Same line shape as pino (`level` number, `time`, `msg`), so one log pipeline reads every service.
 */

export type Level = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
const LEVELS: Record<Level, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: 99,
};

/** Field names whose values are never written (credentials). */
const SECRET_FIELDS = new Set([
  "key",
  "apiKey",
  "routerKey",
  "password",
  "token",
  "authorization",
  "streamKey",
]);

export type Fields = Record<string, unknown>;
export interface Log {
  trace(fields: Fields | string, msg?: string): void;
  debug(fields: Fields | string, msg?: string): void;
  info(fields: Fields | string, msg?: string): void;
  warn(fields: Fields | string, msg?: string): void;
  error(fields: Fields | string, msg?: string): void;
  child(base: Fields): Log;
}

export type Sink = (line: string) => void;

function redact(fields: Fields): Fields {
  const out: Fields = {};
  for (const [k, val] of Object.entries(fields)) {
    if (SECRET_FIELDS.has(k)) out[k] = "<redacted>";
    else if (val instanceof Error) out[k] = { message: val.message, name: val.name };
    else out[k] = val;
  }
  return out;
}

export function createLog(level: Level = "info", base: Fields = { service: "router" }, sink?: Sink): Log {
  const min = LEVELS[level] ?? LEVELS.info;
  const write: Sink = sink ?? ((line) => console.log(line));
  const emit = (lvl: Level) => (fields: Fields | string, msg?: string) => {
    if (LEVELS[lvl] < min) return;
    const f = typeof fields === "string" ? {} : redact(fields);
    const m = typeof fields === "string" ? fields : msg;
    write(JSON.stringify({ level: LEVELS[lvl], time: new Date().toISOString(), ...base, ...f, msg: m }));
  };
  return {
    trace: emit("trace"),
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    child: (more) => createLog(level, { ...base, ...more }, write),
  };
}

/** For tests and benchmarks. */
export const silentLog: Log = createLog("silent");
