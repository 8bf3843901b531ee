/**
 * A real local HTTP server implementing control's documented `POST /v1/ingest/authorize`
 * contract (shared IngestAuthorizeRequest / IngestAuthorizeResponse, errors as shared ErrorBody),
 * for key-check tests. Its refusals are control's: 403 `forbidden` for an unknown key, 409 with
 * `no_capacity` / `already_live` / `node_unavailable` (control/src/ingest/service.ts).
 */
import { decodeMessage, IngestAuthorizeRequest, type ProfileSpec, sha256Hex } from "@dionysia/shared";

export interface StubStream {
  streamId: string;
  streamKey: string;
  profileId: string;
  profile: ProfileSpec;
}

export type StubMode =
  | "normal"
  | "error500"
  | "slow"
  | "malformed"
  | "wrongHash"
  | "no_capacity"
  | "already_live"
  | "node_unavailable";

/** The messages control sends with each 409 (the origin must not rely on their wording). */
const CONFLICTS = {
  no_capacity: "node n has no room for this stream's profile and no neighbour can transcode it",
  already_live: "the stream is live on another healthy node",
  node_unavailable: "node n is cordoned or draining",
} as const;

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
      const hit = stub.streams.find((s) => s.streamKey === d.value.streamKey);
      if (!hit)
        return Response.json({ error: { code: "forbidden", message: "not authorized" } }, { status: 403 });
      const mode = stub.mode;
      if (mode === "no_capacity" || mode === "already_live" || mode === "node_unavailable")
        return Response.json({ error: { code: mode, message: CONFLICTS[mode] } }, { status: 409 });
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
