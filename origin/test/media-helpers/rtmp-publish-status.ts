/**
 * A minimal RTMP publisher that stops at the server's answer to `publish` and returns the onStatus
 * it got (level, code, description): ffmpeg prints only the description, this shows the code
 * (NetStream.Publish.BadName...). Simple handshake, one small command per chunk, AMF0 from
 * node-media-server's codec (the same pinned package the embedded server uses).
 */
import { createRequire } from "node:module";
import { connect } from "node:net";

const require = createRequire(import.meta.url);
const amf: {
  encodeAmf0Cmd(opt: Record<string, unknown>): Buffer;
  decodeAmf0Cmd(buf: Buffer): Record<string, unknown>;
} = require("node-media-server/src/protocol/amf.js");

export interface RtmpStatus {
  level: string;
  code: string;
  description: string;
}

function chunk(csid: number, type: number, streamId: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h[0] = csid; // fmt 0
  h.writeUIntBE(0, 1, 3); // timestamp
  h.writeUIntBE(payload.length, 4, 3);
  h[7] = type;
  h.writeUInt32LE(streamId, 8);
  return Buffer.concat([h, payload]);
}

/** Connects to `rtmp://host:port/{app}`, publishes `name`, resolves with the publish's onStatus. */
export function rtmpPublishStatus(
  host: string,
  port: number,
  app: string,
  name: string,
  timeoutMs = 10_000,
): Promise<RtmpStatus> {
  return new Promise((resolve, reject) => {
    const s = connect(port, host);
    let buf = Buffer.alloc(0);
    let handshaken = false;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error("no onStatus for the publish in time"));
    }, timeoutMs);
    const done = (err: Error | null, st?: RtmpStatus) => {
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(st!);
    };
    const cmd = (opt: Record<string, unknown>, streamId = 0) =>
      s.write(chunk(3, 20, streamId, amf.encodeAmf0Cmd(opt)));
    s.on("connect", () => s.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)])));
    s.on("error", (e) => done(e));
    s.on("close", () => done(new Error("closed before the publish was answered")));
    s.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!handshaken) {
        if (buf.length < 1 + 1536 * 2) return;
        s.write(buf.subarray(1, 1537)); // C2 = S1
        buf = buf.subarray(1 + 1536 * 2);
        handshaken = true;
        // Larger chunks from us, so every command fits in one.
        const size = Buffer.alloc(4);
        size.writeUInt32BE(4096);
        s.write(chunk(2, 1, 0, size));
        const tcUrl = `rtmp://${host}:${port}/${app}`;
        cmd({ cmd: "connect", transId: 1, cmdObj: { app, type: "nonprivate", flashVer: "FMLE/3.0", tcUrl } });
        cmd({ cmd: "createStream", transId: 2, cmdObj: null });
        cmd({ cmd: "publish", transId: 0, cmdObj: null, streamName: name, type: "live" }, 1);
      }
      // The server sends every message as one type-0 chunk (12-byte header) at its large chunk size.
      while (buf.length >= 12) {
        const len = buf.readUIntBE(4, 3);
        if (buf.length < 12 + len) return;
        const type = buf[7];
        const payload = buf.subarray(12, 12 + len);
        buf = buf.subarray(12 + len);
        if (type !== 20) continue;
        const m = amf.decodeAmf0Cmd(payload);
        const info = m.info as Partial<RtmpStatus> | undefined;
        if (m.cmd === "onStatus" && info?.code?.startsWith("NetStream.Publish"))
          return done(null, {
            level: String(info.level),
            code: String(info.code),
            description: String(info.description),
          });
      }
    });
  });
}
