/** The real entry of the runtime running this suite (main.bun.ts or main.deno.ts) as a process. */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort, waitFor } from "../../shared/src/testkit/index.ts";
import { NEW_YORK, origin, ROUTER_KEY, route, startControl } from "./support/fixtures.ts";
import { afterAll, describe, runtime, test } from "./support/harness.ts";

const entry = fileURLToPath(new URL(`../src/main.${runtime}.ts`, import.meta.url));

function run(env: Record<string, string>): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  const args = runtime === "bun" ? [entry] : ["run", "--allow-net", "--allow-env", "--allow-read", entry];
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d) => (out += String(d)));
  child.stderr?.on("data", (d) => (out += String(d)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => out, exited };
}

describe(`entry main.${runtime}.ts`, () => {
  const control = startControl([route("e1", [origin("nyc", "http://nyc.example", NEW_YORK)])]);
  afterAll(() => control.stop());

  test("serves redirects from the bootstrapped table and stops on SIGTERM", async () => {
    const port = await freePort();
    const p = run({
      ROUTER_HOST: "127.0.0.1",
      ROUTER_PORT: String(port),
      CONTROL_URL: control.url,
      DIONYSIA_ROUTER_KEY: ROUTER_KEY,
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(
        "router health with one route",
        async () => {
          const res = await fetch(`${base}/health`).catch(() => undefined);
          return res?.ok && ((await res.json()) as { routes: number }).routes === 1;
        },
        20_000,
        100,
      );
      const res = await fetch(`${base}/live/e1/master.m3u8?a=b`, { redirect: "manual" });
      assert.equal(res.status, 302);
      assert.equal(res.headers.get("location"), "http://nyc.example/live/e1/master.m3u8?a=b");
      assert.match(p.output(), /"msg":"router listening"/);
      assert.ok(!p.output().includes(ROUTER_KEY), "the router key must never be logged");
    } finally {
      p.child.kill("SIGTERM");
      await p.exited;
    }
  });

  test("refuses a bad configuration with the variable's name and exit code 2", async () => {
    const p = run({ ROUTER_MODE: "sideways", DIONYSIA_ROUTER_KEY: ROUTER_KEY });
    assert.equal(await p.exited, 2);
    assert.match(p.output(), /ROUTER_MODE must be one of: redirect, proxy/);
  });
});
