/** CMAF packager and LL-HLS playlists (issue 14): not wired into the supervisor yet. */
export {
  advancePartLimit,
  decideReload,
  parseReloadQuery,
  type ReloadDecision,
  waitForPart,
} from "./blocking.ts";
export { BoxSplitter } from "./boxes.ts";
export { parseFragment, parseInit } from "./fragment.ts";
export { defaultNaming, type RenditionReport, renderMediaPlaylist } from "./playlist.ts";
export { cmafMuxerArgs, readCmaf } from "./reader.ts";
export { partTargetFor, Segmenter, type SegmenterOptions } from "./segmenter.ts";
export { answerPlaylist, type PlaylistAnswer } from "./serve.ts";
export { LiveWindow } from "./window.ts";
