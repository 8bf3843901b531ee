export { parseMediaPlaylist, playlistEnd } from "./playlist.ts";
export { probeInput, probeSegment } from "./probe.ts";
export { type StreamStatusEvent, Supervisor, type SupervisorOptions } from "./service.ts";
