/** Ingest and playback URLs of a stream: pure functions of the stream, its profile and its node. */
import type { ProfileSpec } from "@dionysia/shared";
import type { NodeRow } from "../db/schema.ts";

export const RTMP_PORT = 1935;
export const SRT_PORT = 8890;

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

/**
 * OBS style: server `rtmp://host:1935/live`, the stream key goes in OBS's key field. SRT: the
 * embedded server listens on a port of its own per stream (protected by the stream's SRT
 * passphrase), mediamtx on one port with `streamid=publish:live/{streamKey}`.
 */
export function ingestUrls(
  node: Pick<NodeRow, "ingest" | "publicUrl" | "mediaServer"> | undefined,
  defaultHost: string,
  srtPort?: number | null,
) {
  if (!node)
    return { rtmp: `rtmp://${defaultHost}:${RTMP_PORT}/live`, srt: `srt://${defaultHost}:${SRT_PORT}` };
  const host = nodeIngestHost(node);
  const srt =
    node.mediaServer === "mediamtx"
      ? `srt://${host}:${portOf(node.ingest.srt) ?? SRT_PORT}?streamid=publish:live/{streamKey}`
      : srtPort
        ? `srt://${host}:${srtPort}?passphrase={srtPassphrase}`
        : `srt://${host}:${SRT_PORT}`;
  return {
    rtmp: node.ingest.rtmp ?? `rtmp://${host}:${RTMP_PORT}/live`,
    srt,
    ...(node.ingest.rtsp ? { rtsp: node.ingest.rtsp } : {}),
    ...(node.ingest.whip ? { whip: node.ingest.whip } : {}),
  };
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
