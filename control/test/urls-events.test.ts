import { describe, expect, test } from "bun:test";
import { ControlEvents } from "../src/events.ts";
import { ingestUrls, nodeIngestHost, playbackUrls } from "../src/streams/urls.ts";

describe("stream URLs", () => {
  test("default host while unplaced; the node's endpoints once placed", () => {
    expect(ingestUrls(undefined, "ingest.example")).toEqual({
      rtmp: "rtmp://ingest.example:1935/live",
      srt: "srt://ingest.example:8890",
    });
    const node = {
      ingest: { rtmp: "rtmp://edge.example:1935/live", srt: "edge.example:9000" },
      publicUrl: "http://o:8090",
      mediaServer: "mediamtx",
    };
    expect(nodeIngestHost(node)).toBe("edge.example");
    // mediamtx: one SRT port, the key in the streamid.
    expect(ingestUrls(node, "x")).toEqual({
      rtmp: "rtmp://edge.example:1935/live",
      srt: "srt://edge.example:9000?streamid=publish:live/{streamKey}",
    });
    // Embedded: the per-stream listener port the node reported, protected by the passphrase.
    const embedded = { ...node, mediaServer: "embedded" };
    expect(ingestUrls(embedded, "x", 10003).srt).toBe("srt://edge.example:10003?passphrase={srtPassphrase}");
    // Only a port range announced: host from the public URL.
    const bare = {
      ingest: { srt: "10000-10100" },
      publicUrl: "http://origin.example:8090",
      mediaServer: "embedded",
    };
    expect(ingestUrls(bare, "x").rtmp).toBe("rtmp://origin.example:1935/live");
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
