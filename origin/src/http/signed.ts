/**
 * Signed playback at the origin (ADR 0060): streams whose desired entry says `playbackPolicy:
 * "signed"` need a valid playback token on every request under /live/{id}/ (the router checked it
 * too; this keeps the redirect's Location from being an open URL). Manifests served to a
 * tokenised request are rewritten so every URL a player derives from them carries the token;
 * signed responses are `Cache-Control: private` so a shared cache never hands them to anyone else.
 * The viewer rules (country, address) are the router's: the origin sees the CDN, not the viewer.
 */
import {
  type DesiredStream,
  decodeMessage,
  type Logger,
  PlaybackKeys,
  PlaybackVerifier,
  playbackTokenOf,
  type TokenCheck,
} from "@dionysia/shared";

/** `?token=` or `&token=` for a URL that may already have a query. */
const join = (uri: string, token: string, amp: string) =>
  `${uri}${uri.includes("?") ? amp : "?"}token=${token}`;

/** Absolute URLs elsewhere and data: URIs are left alone; relative ones stay on this origin. */
const rewritable = (uri: string) =>
  uri !== "" && !/^[a-z][a-z0-9+.-]*:/i.test(uri) && !uri.includes("token=");

/**
 * HLS: every URI line (variant playlists, segments) and every `URI="..."` attribute
 * (EXT-X-MAP init segments, EXT-X-MEDIA renditions, parts, preload hints, rendition reports,
 * I-frame playlists) gets `token=`. Pure.
 */
export function rewriteHls(playlist: string, token: string): string {
  return playlist
    .split("\n")
    .map((line) => {
      const t = line.trimEnd();
      if (t === "") return line;
      if (t.startsWith("#"))
        return t.includes('URI="')
          ? line.replace(/URI="([^"]*)"/g, (m, uri: string) =>
              rewritable(uri) ? `URI="${join(uri, token, "&")}"` : m,
            )
          : line;
      return rewritable(t) ? join(t, token, "&") + line.slice(t.length) : line;
    })
    .join("\n");
}

/**
 * DASH: SegmentTemplate `media`/`initialization`, SegmentURL `media`, Initialization `sourceURL`
 * and `<BaseURL>` contents get `token=` (XML-escaped `&amp;` when a query is already there).
 * dash.js and ffmpeg's dashdec both keep a template's query when they substitute `$Number$`. Pure.
 */
export function rewriteDash(mpd: string, token: string): string {
  return mpd
    .replace(/\b(media|initialization|sourceURL)="([^"]*)"/g, (m, attr: string, uri: string) =>
      rewritable(uri) ? `${attr}="${join(uri, token, "&amp;")}"` : m,
    )
    .replace(/<BaseURL>([^<]*)<\/BaseURL>/g, (m, uri: string) =>
      // A directory BaseURL is a prefix: a query on it would land mid-URL once a name is appended.
      uri.endsWith("/") || !rewritable(uri) ? m : `<BaseURL>${join(uri, token, "&amp;")}</BaseURL>`,
    );
}

export class PlaybackGuard {
  readonly verifier: PlaybackVerifier;
  private signed = new Set<string>();
  private readonly signedAssets = new Set<string>();
  private lastTs = -1;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly log: Logger,
    verifier?: PlaybackVerifier,
  ) {
    this.verifier = verifier ?? new PlaybackVerifier();
  }

  /** From each desired state: which of this node's streams are signed. */
  setDesired(streams: readonly Pick<DesiredStream, "id" | "playbackPolicy">[]): void {
    this.signed = new Set(streams.filter((s) => s.playbackPolicy === "signed").map((s) => s.id));
  }

  isSigned(id: string): boolean {
    return this.signed.has(id) || this.signedAssets.has(id);
  }

  /** A VOD asset of a signed stream needs a token for its id too (ADR 0095); from its asset.json. */
  markAsset(assetId: string, policy: "public" | "signed" | undefined): void {
    if (policy === "signed") this.signedAssets.add(assetId);
    else this.signedAssets.delete(assetId);
  }

  /** A message on the retained `dionysia/v1/keys`; the newest list (control's `ts`) wins. */
  onKeysMessage(payload: Uint8Array): Promise<void> {
    const next = this.chain.then(async () => {
      const d = decodeMessage(PlaybackKeys, payload);
      if (!d.ok) {
        this.log.warn({ err: d.error }, "invalid playback keys message dropped");
        return;
      }
      if (d.value.ts < this.lastTs) return;
      this.lastTs = d.value.ts;
      const { rejected } = await this.verifier.setKeys(d.value.keys);
      for (const r of rejected) this.log.warn({ kid: r.kid, err: r.error }, "playback key did not import");
      this.log.info({ keys: this.verifier.keyIds.length }, "playback keys updated");
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  check(
    req: Request,
    streamId: string,
  ): { token: string | undefined; check: TokenCheck | Promise<TokenCheck> } {
    const token = playbackTokenOf(req.url, req.headers);
    return { token, check: this.verifier.check(token, streamId, "v", null) };
  }
}

const SIGNED_PLAYLIST_CACHE = "private, max-age=1";
const SIGNED_SEGMENT_CACHE = "private, max-age=31536000, immutable";

/**
 * The one rule for a signed stream's answers: what the plain answer lets a shared cache keep, only
 * the viewer's own cache may (`public, max-age=5` → `private, max-age=5`); the lifetime stays.
 */
export function privateCacheControl(plain: string | null): string {
  if (!plain) return SIGNED_SEGMENT_CACHE;
  if (/^public\b/.test(plain)) return plain.replace(/^public\b/, "private");
  return /\b(private|no-store)\b/.test(plain) ? plain : `private, ${plain}`;
}

/**
 * Wraps the plain /live answer for a signed stream: refusal as JSON (401 none, 403 otherwise),
 * else the same answer made private (media and thumbnails keep their lifetime), its manifest
 * rewritten with the viewer's token.
 */
export async function serveSigned(
  guard: PlaybackGuard,
  req: Request,
  streamId: string,
  cors: Record<string, string>,
  serve: () => Response | Promise<Response>,
): Promise<Response> {
  const ask = guard.check(req, streamId);
  const r = ask.check instanceof Promise ? await ask.check : ask.check;
  if (!r.ok) {
    guard.log.info({ streamId, code: r.code, reason: r.reason }, "playback token refused");
    return new Response(JSON.stringify({ error: { code: r.code, message: r.reason } }), {
      status: r.status,
      headers: { ...cors, "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" },
    });
  }
  const res = await serve();
  if (res.status >= 300) return res;
  const type = res.headers.get("content-type") ?? "";
  const hls = type.includes("mpegurl");
  const dash = type.includes("dash+xml");
  const headers = new Headers(res.headers);
  headers.set(
    "Cache-Control",
    hls || dash ? SIGNED_PLAYLIST_CACHE : privateCacheControl(res.headers.get("cache-control")),
  );
  // Media: the same bytes (ranges too), made private. Manifests come whole (players such as
  // ffmpeg ask for `Range: bytes=0-`; a part of a rewritten manifest would mean nothing).
  if (!(hls || dash) || res.status !== 200) return new Response(res.body, { status: res.status, headers });
  // Manifests: the token goes into every URL (its length changes, so does Content-Length).
  headers.delete("Content-Length");
  if (req.method === "HEAD") return new Response(null, { status: 200, headers });
  const token = ask.token as string;
  const body = await res.text();
  return new Response(hls ? rewriteHls(body, token) : rewriteDash(body, token), { status: 200, headers });
}
