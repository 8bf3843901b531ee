/**
 * The reconnect window (issue 15, ADR 0091): how long a stream whose publisher dropped stays
 * `reconnecting` — playlists open, capacity held — before it goes `idle` and its playlists end.
 * The one rule for which value applies: the stream's own, else its profile's, else the default.
 */
export const DEFAULT_RECONNECT_WINDOW_S = 60;
export const MAX_RECONNECT_WINDOW_S = 1800;

export function reconnectWindowSeconds(
  stream: { reconnectWindowSeconds?: number | null },
  profile: { reconnectWindowSeconds?: number },
): number {
  return stream.reconnectWindowSeconds ?? profile.reconnectWindowSeconds ?? DEFAULT_RECONNECT_WINDOW_S;
}
