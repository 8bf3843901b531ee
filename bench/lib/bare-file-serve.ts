/**
 * Reference for bench/serve.ts: Bun.serve answering every GET with Bun.file(DATA_DIR + path) and
 * nothing else (no checks, headers or metrics). Separates what the runtime costs from what the
 * origin's handler adds. Never exposed: 127.0.0.1 only, benchmark use only.
 */
import { join } from "node:path";

const dataDir = process.env.DATA_DIR;
if (!dataDir) throw new Error("DATA_DIR is required");
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? "0"),
  fetch(req) {
    const path = req.url.replace(/^[a-z]+:\/\/[^/]*/i, "").split("?")[0] ?? "/";
    if (path.includes("..")) return new Response("bad path", { status: 400 });
    return new Response(Bun.file(join(dataDir, path)));
  },
});
console.log(`listening ${server.port}`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
