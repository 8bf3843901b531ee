/**
 * A signed-playback stack for tests: the origin's PlaybackGuard (given streams signed, one key
 * live), the origin HTTP server on `dataDir`, and the real router handler (redirect mode) in
 * front of it with the same keys.
 */
import { createLogger, generatePlaybackKeyPair } from "@dionysia/shared";
import { loadRouterConfig } from "../../../router/src/config.ts";
import { createRouter } from "../../../router/src/handler.ts";
import { RouteTable } from "../../../router/src/table/store.ts";
import { createOriginHttp, type OriginHttp } from "../../src/http/index.ts";
import { PlaybackGuard } from "../../src/http/signed.ts";
import { createOriginMetrics } from "../../src/metrics/index.ts";

export interface SignedStack {
  key: Awaited<ReturnType<typeof generatePlaybackKeyPair>> & { kid: string };
  guard: PlaybackGuard;
  http: OriginHttp;
  router: ReturnType<typeof Bun.serve>;
  stop(): Promise<void>;
}

export async function startSignedStack(
  dataDir: string,
  streamIds: string[],
  alg: "ES256" | "RS256",
  kid: string,
): Promise<SignedStack> {
  const logger = createLogger({ service: "test", level: "silent" });
  const key = { ...(await generatePlaybackKeyPair(alg)), kid };
  const guard = new PlaybackGuard(logger);
  guard.setDesired(streamIds.map((id) => ({ id, playbackPolicy: "signed" as const })));
  await guard.onKeysMessage(
    new TextEncoder().encode(JSON.stringify({ keys: [{ kid, alg: key.alg, jwk: key.publicJwk }], ts: 1 })),
  );
  const http = createOriginHttp({
    dataDir,
    logger,
    metrics: createOriginMetrics(),
    hostname: "127.0.0.1",
    port: 0,
    playback: guard,
  });
  const table = new RouteTable();
  for (const id of streamIds)
    table.upsert({
      id,
      policy: "signed",
      origins: [{ nodeId: "o1", url: http.url, region: "r", lat: 0, lon: 0, role: "origin" }],
    });
  const handler = createRouter(
    loadRouterConfig({ DIONYSIA_ROUTER_KEY: "rk_test_0123456789", LOG_LEVEL: "silent" }),
    { table, verifier: guard.verifier },
  );
  const router = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => handler(req) });
  return {
    key,
    guard,
    http,
    router,
    async stop() {
      await router.stop(true);
      await http.stop();
    },
  };
}
