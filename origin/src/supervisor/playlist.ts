/** Minimal reading of a live media playlist: enough to see segments arrive and to re-serve them (pure). */
export interface MediaPlaylistInfo {
  mediaSequence: number;
  discontinuitySequence: number;
  /** Segment URIs in order. */
  segments: string[];
  /** EXTINF durations, same order. */
  durations: number[];
  /** EXT-X-PROGRAM-DATE-TIME of each segment, when given (ffmpeg writes it after EXTINF). */
  dates: (string | undefined)[];
  /** Index of each segment preceded by EXT-X-DISCONTINUITY. */
  discontinuities: number[];
  /** The first EXT-X-MAP (ffmpeg writes one per playlist). */
  mapUri?: string;
  /** The EXT-X-MAP in force at each segment (a VOD asset has one per encoder run). */
  maps: (string | undefined)[];
  ended: boolean;
}

export function parseMediaPlaylist(text: string): MediaPlaylistInfo {
  const info: MediaPlaylistInfo = {
    mediaSequence: 0,
    discontinuitySequence: 0,
    segments: [],
    durations: [],
    dates: [],
    discontinuities: [],
    maps: [],
    ended: false,
  };
  let map: string | undefined;
  let pendingDuration: number | undefined;
  let pendingDate: string | undefined;
  let pendingDiscontinuity = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith("#EXT-X-MEDIA-SEQUENCE:")) info.mediaSequence = Number(line.slice(22)) || 0;
    else if (line.startsWith("#EXT-X-DISCONTINUITY-SEQUENCE:"))
      info.discontinuitySequence = Number(line.slice(30)) || 0;
    else if (line === "#EXT-X-DISCONTINUITY") pendingDiscontinuity = true;
    else if (line.startsWith("#EXTINF:")) pendingDuration = Number.parseFloat(line.slice(8));
    else if (line.startsWith("#EXT-X-PROGRAM-DATE-TIME:")) pendingDate = line.slice(25);
    else if (line.startsWith("#EXT-X-MAP:")) {
      map = /URI="([^"]+)"/.exec(line)?.[1];
      info.mapUri ??= map;
    } else if (line === "#EXT-X-ENDLIST") info.ended = true;
    else if (!line.startsWith("#")) {
      if (pendingDiscontinuity) info.discontinuities.push(info.segments.length);
      info.segments.push(line);
      info.durations.push(pendingDuration ?? 0);
      info.dates.push(pendingDate);
      info.maps.push(map);
      pendingDuration = undefined;
      pendingDate = undefined;
      pendingDiscontinuity = false;
    }
  }
  return info;
}

/** Sequence number one past the newest segment: grows by one per segment written. */
export function playlistEnd(p: MediaPlaylistInfo): number {
  return p.mediaSequence + p.segments.length;
}
