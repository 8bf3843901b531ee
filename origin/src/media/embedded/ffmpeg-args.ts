/**
 * Pure command lines for the embedded server's ffmpeg relays. Each reads one input and re-muxes it
 * into FLV towards the local RTMP server (`internalUrl`); video is copied, audio becomes AAC so any
 * source audio (G.711, Opus...) fits FLV. Unit-tested without running ffmpeg.
 */

const COMMON_IN = ["-hide_banner", "-nostdin", "-loglevel", "warning"];

function output(internalUrl: string): string[] {
  return [
    "-map",
    "0:v:0?",
    "-map",
    "0:a:0?",
    "-c:v",
    "copy",
    "-c:a",
    "aac",
    "-b:a",
    "160k",
    "-f",
    "flv",
    internalUrl,
  ];
}

/** SRT listener protected by the stream's passphrase (AES-128: pbkeylen=16). */
export function srtListenerArgs(o: {
  port: number;
  passphrase: string;
  internalUrl: string;
  bind?: string;
}): string[] {
  const q = new URLSearchParams({ mode: "listener", passphrase: o.passphrase, pbkeylen: "16" });
  return [
    ...COMMON_IN,
    "-probesize",
    "500000",
    "-analyzeduration",
    "1000000",
    "-f",
    "mpegts",
    "-i",
    `srt://${o.bind ?? "0.0.0.0"}:${o.port}?${q.toString()}`,
    ...output(o.internalUrl),
  ];
}

/** Pull of a remote source; protocol-specific options for robustness. */
export function pullArgs(o: { source: string; internalUrl: string }): string[] {
  const proto = o.source.slice(0, o.source.indexOf(":")).toLowerCase();
  const input: string[] = [];
  if (proto === "rtsp" || proto === "rtsps") input.push("-rtsp_transport", "tcp", "-timeout", "10000000");
  if (proto === "rtmp" || proto === "rtmps") input.push("-rw_timeout", "10000000");
  if (proto === "http" || proto === "https")
    input.push(
      "-rw_timeout",
      "10000000",
      "-reconnect",
      "1",
      "-reconnect_streamed",
      "1",
      "-reconnect_delay_max",
      "5",
    );
  const src = proto === "srt" && !/[?&]mode=/.test(o.source) ? withQuery(o.source, "mode=caller") : o.source;
  return [...COMMON_IN, ...input, "-i", src, ...output(o.internalUrl)];
}

function withQuery(url: string, kv: string): string {
  return url.includes("?") ? `${url}&${kv}` : `${url}?${kv}`;
}
