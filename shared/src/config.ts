/**
 * Typed configuration from environment variables.
 * Every service declares its variables once with these builders; `loadConfig` validates them all
 * and reports every bad variable by name, so a service refuses to start with a clear message.
 */

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

export interface VarSpec<T> {
  name: string;
  doc: string;
  secret: boolean;
  /** Undefined means required. */
  default: T | undefined;
  optional: boolean;
  parse(raw: string): T;
  /** Human-readable type for docs. */
  kind: string;
}

type Opts<T> = { default?: T; doc?: string; secret?: boolean };

function spec<T>(name: string, kind: string, parse: (raw: string) => T, o: Opts<T> = {}): VarSpec<T> {
  return {
    name,
    kind,
    parse,
    doc: o.doc ?? "",
    secret: o.secret ?? false,
    default: o.default,
    optional: false,
  };
}

/** Makes a variable optional (value `undefined` when unset). */
export function optional<T>(s: VarSpec<T>): VarSpec<T | undefined> {
  return { ...s, optional: true } as VarSpec<T | undefined>;
}

function fail(msg: string): never {
  throw new Error(msg);
}

export const v = {
  string: (name: string, o?: Opts<string>) =>
    spec(name, "string", (r) => (r.length > 0 ? r : fail("must not be empty")), o),
  secret: (name: string, o?: Opts<string>) =>
    spec(name, "secret", (r) => (r.length >= 16 ? r : fail("must be at least 16 characters")), {
      ...o,
      secret: true,
    }),
  int: (name: string, o: Opts<number> & { min?: number; max?: number } = {}) =>
    spec(
      name,
      "integer",
      (r) => {
        if (!/^-?\d+$/.test(r.trim())) fail("must be an integer");
        const n = Number(r);
        if (o.min !== undefined && n < o.min) fail(`must be >= ${o.min}`);
        if (o.max !== undefined && n > o.max) fail(`must be <= ${o.max}`);
        return n;
      },
      o,
    ),
  number: (name: string, o: Opts<number> & { min?: number; max?: number } = {}) =>
    spec(
      name,
      "number",
      (r) => {
        const n = Number(r);
        if (r.trim() === "" || !Number.isFinite(n)) fail("must be a number");
        if (o.min !== undefined && n < o.min) fail(`must be >= ${o.min}`);
        if (o.max !== undefined && n > o.max) fail(`must be <= ${o.max}`);
        return n;
      },
      o,
    ),
  /** TCP port; 0 means "pick an ephemeral port" (used by tests). */
  port: (name: string, o?: Opts<number>) =>
    spec(
      name,
      "port",
      (r) => {
        const n = Number(r);
        if (!/^\d+$/.test(r) || n < 0 || n > 65535) fail("must be a port number 0-65535");
        return n;
      },
      o,
    ),
  bool: (name: string, o?: Opts<boolean>) =>
    spec(
      name,
      "boolean",
      (r) => {
        const s = r.toLowerCase();
        if (["1", "true", "yes", "on"].includes(s)) return true;
        if (["0", "false", "no", "off"].includes(s)) return false;
        return fail("must be true or false");
      },
      o,
    ),
  url: (name: string, o: Opts<string> & { protocols?: string[] } = {}) =>
    spec(
      name,
      "url",
      (r) => {
        let u: URL;
        try {
          u = new URL(r);
        } catch {
          return fail("must be a URL");
        }
        if (o.protocols && !o.protocols.includes(u.protocol.replace(/:$/, "")))
          fail(`must use one of: ${o.protocols.join(", ")}`);
        return r;
      },
      o,
    ),
  enumOf: <const T extends string>(name: string, values: readonly T[], o?: Opts<T>) =>
    spec(
      name,
      values.join("|"),
      (r) => (values.includes(r as T) ? (r as T) : fail(`must be one of: ${values.join(", ")}`)),
      o,
    ),
  /** Comma-separated list of strings. */
  list: (name: string, o?: Opts<string[]>) =>
    spec(
      name,
      "list",
      (r) =>
        r
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      o,
    ),
  /** "from-to" inclusive port range. */
  portRange: (name: string, o?: Opts<{ from: number; to: number }>) =>
    spec(
      name,
      "port range",
      (r) => {
        const m = /^(\d+)-(\d+)$/.exec(r.trim());
        if (!m) return fail('must look like "10000-10100"');
        const from = Number(m[1]);
        const to = Number(m[2]);
        if (from < 1 || to > 65535 || from > to) fail("must be an ascending range within 1-65535");
        return { from, to };
      },
      o,
    ),
};

// biome-ignore lint/suspicious/noExplicitAny: any spec shape is accepted
export type Specs = Record<string, VarSpec<any>>;
export type ConfigOf<S extends Specs> = { [K in keyof S]: S[K] extends VarSpec<infer T> ? T : never };

/** Reads and validates every variable; throws one ConfigError listing all problems. */
export function loadConfig<S extends Specs>(
  specs: S,
  env: Record<string, string | undefined> = process.env,
): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, s] of Object.entries(specs)) {
    const raw = env[s.name];
    if (raw === undefined || raw === "") {
      if (s.default !== undefined) out[key] = s.default;
      else if (s.optional) out[key] = undefined;
      else problems.push(`${s.name} is required${s.doc ? ` (${s.doc})` : ""}`);
      continue;
    }
    try {
      out[key] = s.parse(raw);
    } catch (err) {
      const shown = s.secret ? "<redacted>" : JSON.stringify(raw);
      problems.push(`${s.name} ${(err as Error).message} (got ${shown})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}

/** The config with secrets masked: safe to log. */
export function redactConfig<S extends Specs>(specs: S, config: ConfigOf<S>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(specs)) {
    const value = (config as Record<string, unknown>)[key];
    out[key] = s.secret && value !== undefined ? "<redacted>" : value;
  }
  return out;
}

/**
 * Loads config or exits the process with status 2 and the message on stderr.
 * For service entry points only; libraries and tests call `loadConfig`.
 */
export function loadConfigOrExit<S extends Specs>(specs: S, env = process.env): ConfigOf<S> {
  try {
    return loadConfig(specs, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** Markdown table rows for docs/configuration.md. */
export function describeConfig(specs: Specs): string {
  const rows = Object.values(specs).map((s) => {
    const def =
      s.default === undefined
        ? s.optional
          ? "(unset)"
          : "**required**"
        : `\`${JSON.stringify(s.default)}\``;
    return `| \`${s.name}\` | ${s.kind} | ${s.secret ? "(secret)" : def} | ${s.doc} |`;
  });
  return ["| variable | type | default | meaning |", "| --- | --- | --- | --- |", ...rows].join("\n");
}
