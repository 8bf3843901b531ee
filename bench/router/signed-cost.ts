/**
 * In-process cost of signed playback at the router (ADR 0060): the fetch handler called directly
 * (no sockets, so a busy machine disturbs it far less than wrk) on a public stream and on a signed
 * stream with a valid, cached ES256 token, the same URL bytes on both, interleaved, median of runs.
 *
 *   bun bench/router/signed-cost.ts            deno run -A bench/router/signed-cost.ts
 */

import { loadRouterConfig } from "../../router/src/config.ts";
import { createRouter } from "../../router/src/handler.ts";
import { RouteTable } from "../../router/src/table/store.ts";
import { generatePlaybackKeyPair, signPlaybackToken } from "../../shared/src/playback/sign.ts";
import { PlaybackVerifier } from "../../shared/src/playback/token.ts";

const RUNS = 9;
const N = 50_000;
const key = { ...(await generatePlaybackKeyPair("ES256")), kid: "bench" };
const verifier = new PlaybackVerifier();
await verifier.setKeys([{ kid: key.kid, alg: key.alg, jwk: key.publicJwk }]);
const table = new RouteTable();
const origins = [
  {
    nodeId: "par",
    url: "http://par.example:8090",
    region: "par",
    lat: 48.86,
    lon: 2.35,
    role: "origin" as const,
  },
  {
    nodeId: "tyo",
    url: "http://tyo.example:8090",
    region: "tyo",
    lat: 35.68,
    lon: 139.69,
    role: "origin" as const,
  },
];
table.upsert({ id: "pub", policy: "public", origins });
table.upsert({ id: "sig", policy: "signed", origins });
const handler = createRouter(
  loadRouterConfig({ DIONYSIA_ROUTER_KEY: "rk_bench_0123456789", LOG_LEVEL: "silent" }),
  {
    table,
    verifier,
  },
);
const token = await signPlaybackToken(key, { sub: "sig", exp: Math.floor(Date.now() / 1000) + 3600 });
const url = (id: string) => `http://router.test/live/${id}/720p/index.m3u8?token=${token}`;
await handler(new Request(url("sig"))); // verified once; every later request is a cache hit

function time(id: string): number {
  const reqs = Array.from({ length: N }, () => new Request(url(id), { headers: { "cf-ipcountry": "JP" } }));
  const t0 = performance.now();
  for (const r of reqs) {
    const res = handler(r);
    if (!(res instanceof Response) || res.status !== 302) throw new Error("expected a synchronous 302");
  }
  return ((performance.now() - t0) * 1000) / N;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const pub: number[] = [];
const sig: number[] = [];
time("pub");
time("sig");
for (let i = 0; i < RUNS; i++) {
  if (i % 2) {
    pub.push(time("pub"));
    sig.push(time("sig"));
  } else {
    sig.push(time("sig"));
    pub.push(time("pub"));
  }
}
const runtime = (globalThis as { Deno?: unknown }).Deno ? "deno" : "bun";
const p = median(pub);
const s = median(sig);
console.log(
  `| ${runtime} | ${p.toFixed(2)} | ${s.toFixed(2)} | +${(s - p).toFixed(2)} | ${(p / s).toFixed(2)}× |`,
);
