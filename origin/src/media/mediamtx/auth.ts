/**
 * mediamtx's HTTP authentication (`authMethod: http`): mediamtx POSTs
 * `{ip, user, password, token, action, path, protocol, id, query}` and accepts on 2xx.
 * publish: path `live/{streamKey}` (RTMP/RTSP/WHIP; SRT streamid `publish:live/{key}`); read/playback:
 * `live/...` from loopback or `relay/{streamId}` with a token. Both are decided by the origin's one
 * access policy (auth/access.ts), which logs and counts each refusal with its reason; the answer's
 * body names it too. mediamtx only looks at the status (its client sees a generic auth failure).
 */
import type { Logger } from "@dionysia/shared";
import { type AccessPolicyOptions, createAccessPolicy } from "../../auth/access.ts";
import { type Authorization, describeRefusal } from "../../auth/publish-refusal.ts";
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
  /** Counts refused publishes by reason (`dionysia_origin_publish_rejected_total`). */
  publishRejected?: AccessPolicyOptions["rejected"];
  keyFailures?: AccessPolicyOptions["keyFailures"];
  /** Told about every accepted publish (lets the paths poller map `live/{key}` to a stream id). */
  onAuthorized?: (key: string, auth: Authorization) => void;
}

const PROTOCOLS: Record<string, IngestProtocol> = {
  rtmp: "rtmp",
  rtsp: "rtsp",
  srt: "srt",
  webrtc: "webrtc",
};

function deny(status: 400 | 401 | 403, message: string, code?: string): Response {
  return Response.json(
    { error: { code: code ?? (status === 400 ? "bad_request" : "forbidden"), message } },
    { status },
  );
}

export function mediamtxAuthHandler(deps: MediamtxAuthDeps): (req: Request) => Promise<Response> {
  const log = deps.logger.child({ component: "mediamtx-auth" });
  const access = createAccessPolicy({
    authority: deps.authority,
    logger: deps.logger,
    ...(deps.relaySecret ? { relaySecret: deps.relaySecret } : {}),
    ...(deps.publishRejected ? { rejected: deps.publishRejected } : {}),
    ...(deps.keyFailures ? { keyFailures: deps.keyFailures } : {}),
  });
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
      const d = await access.authorize({
        action: "publish",
        streamKey: key,
        protocol: PROTOCOLS[String(body.protocol)] ?? "rtmp",
        ...(ip ? { remoteAddr: ip } : {}),
      });
      // 401 for a wrong key (mediamtx then asks RTSP/WebRTC clients for credentials), 403 otherwise.
      if (!d.ok)
        return deny(
          d.reason === "wrong_key" || d.reason === "rate_limited" ? 401 : 403,
          describeRefusal(d.reason),
          d.reason,
        );
      const auth: Authorization = { streamId: d.streamId, keyHash: d.keyHash, profile: d.profile };
      deps.onAuthorized?.(key, auth);
      log.info({ streamId: auth.streamId, ip, protocol: body.protocol }, "publish authorized");
      return new Response(null, { status: 200 });
    }
    if (action === "read" || action === "playback") {
      const token = new URLSearchParams(String(body.query ?? "")).get("token") ?? body.password ?? body.token;
      const d = await access.authorize({
        action: "read",
        path,
        ...(token ? { token } : {}),
        ...(ip ? { remoteAddr: ip } : {}),
      });
      if (d.ok) return new Response(null, { status: 200 });
      return deny(403, d.detail);
    }
    if ((action === "api" || action === "metrics" || action === "pprof") && isLoopback(ip)) {
      return new Response(null, { status: 200 });
    }
    return deny(403, `action ${action || "(none)"} not allowed`);
  };
}
