/**
 * A real local HTTP server implementing control's documented `POST /v1/ingest/authorize`
 * contract (shared IngestAuthorizeRequest / IngestAuthorizeResponse), for key-check tests.
 */
import { decodeMessage, IngestAuthorizeRequest, type ProfileSpec, sha256Hex } from "@dionysia/shared";

export interface StubStream {
  streamId: string;
  streamKey: string;
  profileId: string;
  profile: ProfileSpec;
}

export type StubMode = "normal" | "error500" | "slow" | "malformed" | "wrongHash" | "conflict";

export interface ControlStub {
  url: string;
  nodeKey: string;
  requests: { auth: string | null; body: unknown }[];
  mode: StubMode;
  streams: StubStream[];
  stop(): void;
}

export function startControlStub(nodeKey: string, streams: StubStream[] = []): ControlStub {
  const stub: ControlStub = {
    url: "",
    nodeKey,
    requests: [],
    mode: "normal",
    streams,
    stop: () => undefined,
  };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      if (req.method !== "POST" || url.pathname !== "/v1/ingest/authorize")
        return Response.json({ error: { code: "not_found", message: "not found" } }, { status: 404 });
      const text = await req.text();
      let body: unknown = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      stub.requests.push({ auth: req.headers.get("authorization"), body });
      if (req.headers.get("authorization") !== `Bearer ${stub.nodeKey}`)
        return Response.json(
          { error: { code: "unauthorized", message: "bad node credential" } },
          { status: 401 },
        );
      const d = decodeMessage(IngestAuthorizeRequest, text);
      if (!d.ok) return Response.json({ error: { code: "bad_request", message: d.error } }, { status: 400 });
      if (stub.mode === "error500")
        return Response.json({ error: { code: "internal", message: "boom" } }, { status: 500 });
      if (stub.mode === "slow") await new Promise((r) => setTimeout(r, 2000));
      if (stub.mode === "conflict")
        return Response.json({ error: { code: "conflict", message: "live elsewhere" } }, { status: 409 });
      const hit = stub.streams.find((s) => s.streamKey === d.value.streamKey);
      if (!hit)
        return Response.json({ error: { code: "forbidden", message: "unknown key" } }, { status: 403 });
      if (stub.mode === "malformed") return new Response('{"streamId": 42}', { status: 200 });
      return Response.json({
        streamId: hit.streamId,
        profileId: hit.profileId,
        profile: hit.profile,
        keyHash: stub.mode === "wrongHash" ? sha256Hex("something else") : sha256Hex(hit.streamKey),
      });
    },
  });
  stub.url = `http://127.0.0.1:${server.port}`;
  stub.stop = () => server.stop(true);
  return stub;
}
