/**
 * The baseline: the same runtime's bare HTTP server answering every request with a fixed 302 that has
 * the router's header set (Location, Cache-Control, Access-Control-Allow-Origin), so both sides write
 * the same bytes. Runs under Bun or Deno (whichever executes it); port from BARE_PORT.
 */
interface Env {
  Bun?: { serve(o: { hostname: string; port: number; fetch: (req: Request) => Response }): unknown };
  Deno?: {
    env: { get(k: string): string | undefined };
    serve(
      o: { hostname: string; port: number; onListen?: () => void },
      h: (req: Request) => Response,
    ): unknown;
  };
  process?: { env: Record<string, string | undefined> };
}
const g = globalThis as unknown as Env;
const port = Number((g.Deno ? g.Deno.env.get("BARE_PORT") : g.process?.env.BARE_PORT) ?? 8001);
const LOCATION = "http://origin.example:8090/live/s0042/720p/index.m3u8?token=x";

// BARE_READ_GEO=1: also read the URL and the three geo headers the router reads for a CF-IPCountry
// request (reference for how much of the router's cost is the runtime materialising the request, not
// the router's own work).
const readGeo = (g.Deno ? g.Deno.env.get("BARE_READ_GEO") : g.process?.env.BARE_READ_GEO) === "1";

const respond = (req: Request) => {
  if (readGeo) {
    const h = req.headers;
    const where = h.get("cloudfront-viewer-latitude") ?? h.get("x-client-lat") ?? h.get("cf-ipcountry");
    if (where === "" || req.url === "") return new Response(null, { status: 400 });
  }
  return new Response(null, {
    status: 302,
    headers: { location: LOCATION, "cache-control": "no-store", "access-control-allow-origin": "*" },
  });
};

if (g.Bun) g.Bun.serve({ hostname: "127.0.0.1", port, fetch: respond });
else g.Deno!.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, respond);
console.log(`bare 302 server on ${port}`);
