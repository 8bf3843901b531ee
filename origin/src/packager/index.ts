/** CMAF packager, LL-HLS playlists and LL-DASH manifests (issue 14): not wired into the supervisor yet. */
export {
  advancePartLimit,
  decideReload,
  parseReloadQuery,
  type ReloadDecision,
  waitForPart,
} from "./blocking.ts";
export { BoxSplitter } from "./boxes.ts";
export { type ChunkedOptions, segmentState, streamSegment } from "./chunked.ts";
export { parseFragment, parseInit } from "./fragment.ts";
export {
  availabilityTimeOffset,
  defaultLatency,
  type MpdInput,
  type MpdRendition,
  mpdRendition,
  renderLiveMpd,
} from "./mpd.ts";
export { defaultNaming, type RenditionReport, renderMediaPlaylist } from "./playlist.ts";
export { cmafMuxerArgs, readCmaf } from "./reader.ts";
export { partTargetFor, Segmenter, type SegmenterOptions } from "./segmenter.ts";
export { answerPlaylist, type PlaylistAnswer } from "./serve.ts";
export { LiveWindow } from "./window.ts";
