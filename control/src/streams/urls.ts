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

/** OBS style: server `rtmp://host:1935/live`, the stream key goes in OBS's key field. */
export function ingestUrls(node: Pick<NodeRow, "ingest" | "publicUrl"> | undefined, defaultHost: string) {
  if (!node)
    return { rtmp: `rtmp://${defaultHost}:${RTMP_PORT}/live`, srt: `srt://${defaultHost}:${SRT_PORT}` };
  const host = nodeIngestHost(node);
  const srt = node.ingest.srt;
  return {
    rtmp: node.ingest.rtmp ?? `rtmp://${host}:${RTMP_PORT}/live`,
    srt: srt
      ? srt.includes("://")
        ? srt
        : `srt://${srt.includes(":") ? srt : `${host}:${srt}`}`
      : `srt://${host}:${SRT_PORT}`,
    ...(node.ingest.rtsp ? { rtsp: node.ingest.rtsp } : {}),
    ...(node.ingest.whip ? { whip: node.ingest.whip } : {}),
  };
}

export function playbackUrls(baseUrl: string, id: string, profile: Pick<ProfileSpec, "formats"> | undefined) {
  const base = baseUrl.replace(/\/+$/, "");
  return {
    hls: `${base}/live/${id}/master.m3u8`,
    ...(profile?.formats.includes("dash") ? { dash: `${base}/live/${id}/manifest.mpd` } : {}),
  };
}
