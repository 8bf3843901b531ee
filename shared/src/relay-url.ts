/**
 * Where a transcode peer pulls an overflow stream from (ADR 0031): the ingest node's announced
 * relay base plus the stream id. Control writes it into desired state (`pullFrom`); the origin
 * appends its HMAC token. The only place this URL is put together.
 */
export function relayPullUrl(relayBase: string, streamId: string): string {
  return `${relayBase.replace(/\/+$/, "")}/${streamId}`;
}
