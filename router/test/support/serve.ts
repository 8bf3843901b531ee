/** A local HTTP server on 127.0.0.1 and an ephemeral port, on whichever runtime runs the tests. */

export interface Served {
  url: string;
  port: number;
  stop(): Promise<void>;
}

type Handler = (req: Request) => Response | Promise<Response>;

interface BunLike {
  serve(o: { hostname: string; port: number; fetch: Handler }): {
    port: number;
    stop(force?: boolean): unknown;
  };
}
interface DenoLike {
  serve(
    o: { hostname: string; port: number; onListen?: (a: { port: number }) => void },
    h: Handler,
  ): { addr: { port: number }; shutdown(): Promise<void> };
}

export function serveLocal(handler: Handler, port = 0): Served {
  const g = globalThis as unknown as { Bun?: BunLike; Deno?: DenoLike };
  if (g.Bun) {
    const s = g.Bun.serve({ hostname: "127.0.0.1", port, fetch: handler });
    return {
      url: `http://127.0.0.1:${s.port}`,
      port: s.port,
      stop: async () => {
        await s.stop(true);
      },
    };
  }
  const s = g.Deno!.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handler);
  return {
    url: `http://127.0.0.1:${s.addr.port}`,
    port: s.addr.port,
    stop: () => s.shutdown(),
  };
}
