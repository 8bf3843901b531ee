/**
 * mediamtx's HTTP authentication (`authMethod: http`): mediamtx POSTs
 * `{ip, user, password, token, action, path, protocol, id, query}` and accepts on 2xx.
 * publish: path `live/{streamKey}` (RTMP/RTSP/WHIP; SRT streamid `publish:live/{key}`), key checked by
 * the KeyAuthority. read/playback: loopback (the origin itself) or a peer with a relay token on
 * `relay/{streamId}`. Everything else is refused.
 */
import type { Logger } from "@dionysia/shared";
import { SAFE_ID } from "@dionysia/shared";
import type { Authorization } from "../../auth/key-authority.ts";
import { verifyRelayToken } from "../../auth/relay-token.ts";
import { isLoopback } from "../net.ts";
import type { IngestProtocol, KeyAuthority } from "../types.ts";

export interface MediamtxAuthRequest {
  ip?: string;
  user?: string;
  password?: string;
  token?: string;
  action?: string;
  path?: string;
  protocol?: string;
  id?: string | null;
  query?: string;
}

export interface MediamtxAuthDeps {
  authority: KeyAuthority;
  logger: Logger;
  relaySecret?: string;
  /** Told about every accepted publish (lets the paths poller map `live/{key}` to a stream id). */
  onAuthorized?: (key: string, auth: Authorization) => void;
}

const PROTOCOLS: Record<string, IngestProtocol> = {
  rtmp: "rtmp",
  rtsp: "rtsp",
  srt: "srt",
  webrtc: "webrtc",
};

function deny(status: 400 | 401 | 403, message: string): Response {
  return Response.json(
    { error: { code: status === 400 ? "bad_request" : "forbidden", message } },
    { status },
  );
}

export function mediamtxAuthHandler(deps: MediamtxAuthDeps): (req: Request) => Promise<Response> {
  const log = deps.logger.child({ component: "mediamtx-auth" });
  return async (req) => {
    if (req.method !== "POST") return deny(400, "POST expected");
    let body: MediamtxAuthRequest;
    try {
      const parsed = (await req.json()) as unknown;
      if (!parsed || typeof parsed !== "object") throw new Error("not an object");
      body = parsed as MediamtxAuthRequest;
    } catch {
      return deny(400, "invalid JSON body");
    }
    const action = String(body.action ?? "");
    const path = String(body.path ?? "");
    const ip = typeof body.ip === "string" ? body.ip : undefined;
    if (action === "publish") {
      const m = /^live\/([^/]{1,256})$/.exec(path);
      if (!m) {
        log.warn({ ip, protocol: body.protocol }, "publish refused: not a live/{key} path");
        return deny(401, "publish requires live/{streamKey}");
      }
      const key = m[1]!;
      const auth = await deps.authority.authorize({
        streamKey: key,
        protocol: PROTOCOLS[String(body.protocol)] ?? "rtmp",
        ...(ip ? { remoteAddr: ip } : {}),
      });
      if (!auth) {
        log.warn({ ip, protocol: body.protocol }, "publish refused: invalid stream key");
        return deny(401, "invalid stream key");
      }
      deps.onAuthorized?.(key, auth);
      log.info({ streamId: auth.streamId, ip, protocol: body.protocol }, "publish authorized");
      return new Response(null, { status: 200 });
    }
    if (action === "read" || action === "playback") {
      if (isLoopback(ip)) return new Response(null, { status: 200 });
      const m = /^relay\/([^/]+)$/.exec(path);
      const token = new URLSearchParams(String(body.query ?? "")).get("token") ?? body.password ?? body.token;
      if (m && SAFE_ID.test(m[1]!) && verifyRelayToken(deps.relaySecret, m[1]!, token)) {
        log.info({ streamId: m[1], ip }, "relay read authorized");
        return new Response(null, { status: 200 });
      }
      log.warn({ ip, action, protocol: body.protocol }, "read refused");
      return deny(403, "reading is reserved to this origin and authorized peers");
    }
    if ((action === "api" || action === "metrics" || action === "pprof") && isLoopback(ip)) {
      return new Response(null, { status: 200 });
    }
    return deny(403, `action ${action || "(none)"} not allowed`);
  };
}
