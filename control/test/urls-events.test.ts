import { describe, expect, test } from "bun:test";
import { ControlEvents } from "../src/events.ts";
import { nextFreePort } from "../src/streams/srt-ports.ts";
import { ingestUrls, nodeIngestHost, playbackUrls, withSecrets } from "../src/streams/urls.ts";

describe("stream URLs", () => {
  test("each media server gets an SRT URL it accepts; default host while unplaced", () => {
    // Unplaced: the default host, the embedded server's form with the stream's own port.
    expect(ingestUrls({ defaultHost: "ingest.example", srtPort: 10007 })).toEqual({
      rtmp: "rtmp://ingest.example:1935/live",
      srt: "srt://ingest.example:10007?passphrase={passphrase}&pbkeylen=16",
    });
    // Unplaced while every known node runs mediamtx: its form.
    expect(ingestUrls({ defaultHost: "i", srtPort: 10007, defaultMediaServer: "mediamtx" }).srt).toBe(
      "srt://i:8890?streamid=publish:live/{streamKey}",
    );
    const node = {
      ingest: { rtmp: "rtmp://edge.example:1935/live", srt: "edge.example:9000" },
      publicUrl: "http://o:8090",
      mediaServer: "mediamtx",
    };
    expect(nodeIngestHost(node)).toBe("edge.example");
    // mediamtx: one SRT port, the key in the streamid.
    expect(ingestUrls({ node, defaultHost: "x", srtPort: 10003 })).toEqual({
      rtmp: "rtmp://edge.example:1935/live",
      srt: "srt://edge.example:9000?streamid=publish:live/{streamKey}",
    });
    // Embedded: the stream's own listener port, protected by its passphrase (AES-128).
    const embedded = { ...node, mediaServer: "embedded" };
    expect(ingestUrls({ node: embedded, defaultHost: "x", srtPort: 10003 }).srt).toBe(
      "srt://edge.example:10003?passphrase={passphrase}&pbkeylen=16",
    );
    // No port left for the stream: no SRT URL rather than a wrong one.
    expect(ingestUrls({ node: embedded, defaultHost: "x", srtPort: null }).srt).toBeUndefined();
    // Only a port range announced: host from the public URL.
    const bare = {
      ingest: { srt: "10000-10100" },
      publicUrl: "http://origin.example:8090",
      mediaServer: "embedded",
    };
    expect(ingestUrls({ node: bare, defaultHost: "x", srtPort: 1 }).rtmp).toBe(
      "rtmp://origin.example:1935/live",
    );
    // Replies that know the secrets fill them in.
    expect(
      withSecrets(ingestUrls({ node: embedded, defaultHost: "x", srtPort: 10003 }), {
        streamKey: "sk_a",
        srtPassphrase: "pass1234567",
      }).srt,
    ).toBe("srt://edge.example:10003?passphrase=pass1234567&pbkeylen=16");
  });

  test("SRT ports: round-robin from the cursor, skipping used ones, wrapping; none when full", () => {
    const range = { from: 10, to: 14 };
    expect(nextFreePort(range, new Set(), 10)).toBe(10);
    expect(nextFreePort(range, new Set([12]), 12)).toBe(13);
    // A deleted stream's port (11) is not handed out again until the range went round.
    expect(nextFreePort(range, new Set([10, 12]), 13)).toBe(13);
    expect(nextFreePort(range, new Set([13, 14]), 13)).toBe(10);
    expect(nextFreePort(range, new Set(), 99)).toBe(10);
    expect(nextFreePort(range, new Set([10, 11, 12, 13, 14]), 10)).toBeUndefined();
  });

  test("playback: HLS always, DASH when the profile has it; trailing slash tolerated", () => {
    expect(playbackUrls("https://cdn.example/", "abc", { formats: ["hls", "dash"] })).toEqual({
      hls: "https://cdn.example/live/abc/master.m3u8",
      dash: "https://cdn.example/live/abc/manifest.mpd",
    });
    expect(playbackUrls("https://cdn.example", "abc", { formats: ["hls"] })).toEqual({
      hls: "https://cdn.example/live/abc/master.m3u8",
    });
  });
});

describe("ControlEvents", () => {
  test("a throwing listener does not stop the others and is reported", () => {
    const ev = new ControlEvents();
    const got: string[] = [];
    const errors: string[] = [];
    ev.onListenerError((_err, name) => errors.push(name));
    ev.on("stream.created", () => {
      throw new Error("boom");
    });
    const off = ev.on("stream.created", (e) => got.push(e.streamId));
    ev.emit("stream.created", { streamId: "s1" });
    off();
    ev.emit("stream.created", { streamId: "s2" });
    expect(got).toEqual(["s1"]);
    expect(errors).toEqual(["stream.created", "stream.created"]);
  });
});
