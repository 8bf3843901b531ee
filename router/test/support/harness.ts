/**
 * One test suite, two runtimes (ADR 0056): under Bun these are bun:test's own functions; under Deno
 * each `describe` becomes one `Deno.test` whose tests are steps, with beforeAll/afterAll around them.
 * Assertions use `node:assert/strict`, which both runtimes ship. No nested describes.
 */

type Fn = () => unknown | Promise<unknown>;

interface DenoTestApi {
  test(def: {
    name: string;
    ignore?: boolean;
    fn: (t: { step(name: string, fn: () => Promise<void>): Promise<boolean> }) => Promise<void>;
    sanitizeOps?: boolean;
    sanitizeResources?: boolean;
    sanitizeExit?: boolean;
  }): void;
}

interface BunTestApi {
  describe: ((name: string, body: () => void) => void) & { skip(name: string, body: () => void): void };
  test(name: string, fn: Fn, timeoutMs?: number): void;
  beforeAll(fn: Fn): void;
  afterAll(fn: Fn): void;
}

const g = globalThis as unknown as { Bun?: unknown; Deno?: DenoTestApi };
export const runtime: "bun" | "deno" = g.Bun ? "bun" : "deno";

// A non-literal specifier keeps Deno from trying to resolve `bun:test` when it loads this file.
const BUN_TEST = "bun:test";
const bun: BunTestApi | undefined = g.Bun ? ((await import(BUN_TEST)) as BunTestApi) : undefined;

interface Suite {
  tests: { name: string; fn: Fn; timeoutMs: number }[];
  before: Fn[];
  after: Fn[];
}
let current: Suite | undefined;

async function withTimeout(p: unknown, ms: number, name: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      Promise.resolve(p),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`test "${name}" timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `skip`: the suite is reported as skipped (e.g. its binary is missing: see testkit `reportSkip`). */
export function describe(name: string, body: () => void, opts: { skip?: boolean } = {}): void {
  if (bun) {
    if (opts.skip) bun.describe.skip(name, body);
    else bun.describe(name, body);
    return;
  }
  const suite: Suite = { tests: [], before: [], after: [] };
  current = suite;
  body();
  current = undefined;
  g.Deno!.test({
    name,
    ignore: opts.skip ?? false,
    // Sockets and MQTT timers are closed in afterAll; Deno's per-step sanitizers would misfire.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      try {
        for (const f of suite.before) await f();
        for (const tc of suite.tests)
          await t.step(tc.name, () => withTimeout(tc.fn(), tc.timeoutMs, tc.name));
      } finally {
        for (const f of suite.after) await f();
      }
    },
  });
}

export function test(name: string, fn: Fn, timeoutMs = 30_000): void {
  if (bun) {
    bun.test(name, fn, timeoutMs);
    return;
  }
  if (!current) throw new Error("harness: call test() inside describe()");
  current.tests.push({ name, fn, timeoutMs });
}

export function beforeAll(fn: Fn): void {
  if (bun) {
    bun.beforeAll(fn);
    return;
  }
  current?.before.push(fn);
}

export function afterAll(fn: Fn): void {
  if (bun) {
    bun.afterAll(fn);
    return;
  }
  current?.after.push(fn);
}
