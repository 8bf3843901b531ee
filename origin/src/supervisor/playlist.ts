/** Minimal reading of a live media playlist: enough to see segments arrive (pure). */
export interface MediaPlaylistInfo {
  mediaSequence: number;
  /** Segment URIs in order. */
  segments: string[];
  /** EXTINF durations, same order. */
  durations: number[];
  mapUri?: string;
  ended: boolean;
}

export function parseMediaPlaylist(text: string): MediaPlaylistInfo {
  const info: MediaPlaylistInfo = { mediaSequence: 0, segments: [], durations: [], ended: false };
  let pendingDuration: number | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith("#EXT-X-MEDIA-SEQUENCE:")) info.mediaSequence = Number(line.slice(22)) || 0;
    else if (line.startsWith("#EXTINF:")) pendingDuration = Number.parseFloat(line.slice(8));
    else if (line.startsWith("#EXT-X-MAP:")) info.mapUri = /URI="([^"]+)"/.exec(line)?.[1];
    else if (line === "#EXT-X-ENDLIST") info.ended = true;
    else if (!line.startsWith("#")) {
      info.segments.push(line);
      info.durations.push(pendingDuration ?? 0);
      pendingDuration = undefined;
    }
  }
  return info;
}

/** Sequence number one past the newest segment: grows by one per segment written. */
export function playlistEnd(p: MediaPlaylistInfo): number {
  return p.mediaSequence + p.segments.length;
}
