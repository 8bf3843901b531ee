/** Ingest and playback URLs of a stream: pure functions of the stream, its profile and its node. */
import type { ProfileSpec } from "@dionysia/shared";
import type { NodeRow } from "../db/schema.ts";

export const RTMP_PORT = 1935;
/** mediamtx's SRT port unless its node announces another. */
const MEDIAMTX_SRT_PORT = 8890;

export type MediaServer = "embedded" | "mediamtx";

function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).hostname || undefined;
  } catch {
    return undefined;
  }
}

/** The host streamers push to on a node: its announced RTMP endpoint, else its public URL's host. */
export function nodeIngestHost(node: Pick<NodeRow, "ingest" | "publicUrl">): string {
  return hostOf(node.ingest.rtmp) ?? hostOf(node.publicUrl) ?? "localhost";
}

export interface IngestTarget {
  /** The node the stream is placed on; undefined while unplaced. */
  node?: Pick<NodeRow, "ingest" | "publicUrl" | "mediaServer"> | undefined;
  /** Host used while unplaced (DEFAULT_INGEST_HOST). */
  defaultHost: string;
  /** The stream's own SRT port (assigned by control at creation); null when none was free. */
  srtPort: number | null;
  /** Media server assumed while unplaced (what the known nodes run). */
  defaultMediaServer?: MediaServer;
}

/**
 * OBS style: server `rtmp://host:1935/live`, the stream key goes in OBS's key field. SRT, for
 * the media server the node runs: the embedded server listens on the stream's own port with the
 * stream's passphrase (an ffmpeg listener, `mode=listener&passphrase=..&pbkeylen=16`: AES-128,
 * no stream id needed), mediamtx on one port with `streamid=publish:live/{streamKey}`.
 * `{streamKey}` and `{passphrase}` are placeholders except in the create and rotate replies,
 * which know the secrets (`withSecrets`).
 */
export function ingestUrls(t: IngestTarget): { rtmp: string; srt?: string; rtsp?: string; whip?: string } {
  const node = t.node;
  const host = node ? nodeIngestHost(node) : t.defaultHost;
  const server = (node?.mediaServer as MediaServer | undefined) ?? t.defaultMediaServer ?? "embedded";
  const srt =
    server === "mediamtx"
      ? `srt://${host}:${portOf(node?.ingest.srt) ?? MEDIAMTX_SRT_PORT}?streamid=publish:live/{streamKey}`
      : t.srtPort
        ? `srt://${host}:${t.srtPort}?passphrase={passphrase}&pbkeylen=16`
        : undefined;
  return {
    rtmp: node?.ingest.rtmp ?? `rtmp://${host}:${RTMP_PORT}/live`,
    ...(srt ? { srt } : {}),
    ...(node?.ingest.rtsp ? { rtsp: node.ingest.rtsp } : {}),
    ...(node?.ingest.whip ? { whip: node.ingest.whip } : {}),
  };
}

/** The URLs with the secrets filled in (create and key-rotation replies only). */
export function withSecrets<T extends Record<string, string | undefined>>(
  urls: T,
  secrets: { streamKey: string; srtPassphrase: string },
): T {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(urls))
    out[k] = v
      ?.replace("{streamKey}", encodeURIComponent(secrets.streamKey))
      .replace("{passphrase}", encodeURIComponent(secrets.srtPassphrase));
  return out as T;
}

function portOf(hostPort: string | undefined): number | undefined {
  const m = hostPort ? /:(\d+)$/.exec(hostPort) : null;
  return m ? Number(m[1]) : undefined;
}

export function playbackUrls(baseUrl: string, id: string, profile: Pick<ProfileSpec, "formats"> | undefined) {
  const base = baseUrl.replace(/\/+$/, "");
  return {
    hls: `${base}/live/${id}/master.m3u8`,
    ...(profile?.formats.includes("dash") ? { dash: `${base}/live/${id}/manifest.mpd` } : {}),
  };
}
