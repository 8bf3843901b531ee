/**
 * Maximum MQTT packet size for the embedded broker. aedes (1.2) has no limit and buffers a
 * whole packet before parsing it, so a 64 MB PUBLISH costs 64 MB; this reads each packet's
 * fixed header as the bytes arrive and cuts the connection as soon as a remaining length over
 * the limit is announced, before its body is buffered.
 */
import { Duplex } from "node:stream";

export type FrameVerdict =
  | { ok: true }
  | { ok: false; reason: "packet_too_large" | "malformed"; size: number };

/** Byte-level state machine over MQTT fixed headers (type byte, 1..4 length bytes, body). */
export class MqttFrameGuard {
  private state: "type" | "length" | "body" = "type";
  private remaining = 0;
  private multiplier = 1;
  private lengthBytes = 0;

  constructor(readonly maxBytes: number) {}

  feed(chunk: Uint8Array): FrameVerdict {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === "body") {
        const take = Math.min(this.remaining, chunk.length - i);
        this.remaining -= take;
        i += take;
        if (this.remaining === 0) this.state = "type";
        continue;
      }
      const byte = chunk[i++] as number;
      if (this.state === "type") {
        this.state = "length";
        this.remaining = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        continue;
      }
      this.remaining += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      if (this.remaining > this.maxBytes)
        return { ok: false, reason: "packet_too_large", size: this.remaining };
      if (byte & 0x80) {
        if (this.lengthBytes === 4) return { ok: false, reason: "malformed", size: this.remaining };
        continue;
      }
      this.state = this.remaining === 0 ? "type" : "body";
    }
    return { ok: true };
  }
}

/**
 * Wraps a socket in a duplex for `aedes.handle`: writes go straight to the socket, reads pass
 * through the frame guard. On a refused frame the socket is destroyed and `onRefused` called.
 */
export function guardedConnection(
  socket: Duplex,
  maxBytes: number,
  onRefused: (v: Exclude<FrameVerdict, { ok: true }>) => void,
): Duplex {
  const guard = new MqttFrameGuard(maxBytes);
  // Resume only what we paused: a resume per read costs a syscall on every chunk.
  let paused = false;
  const conn: Duplex = new Duplex({
    read() {
      if (!paused) return;
      paused = false;
      socket.resume();
    },
    write(chunk, _enc, cb) {
      if (socket.destroyed) return cb();
      // Not waiting for each flush lets the socket coalesce aedes' many small writes.
      if (socket.write(chunk)) cb();
      else socket.once("drain", () => cb());
    },
    // aedes corks the connection around each packet's pieces: hand them to the socket as one write.
    writev(chunks, cb) {
      if (socket.destroyed) return cb();
      const all = Buffer.concat(chunks.map((c) => c.chunk as Buffer));
      if (socket.write(all)) cb();
      else socket.once("drain", () => cb());
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.destroy();
      cb(err);
    },
  });
  socket.on("data", (chunk: Buffer) => {
    const v = guard.feed(chunk);
    if (!v.ok) {
      onRefused(v);
      socket.destroy();
      conn.destroy();
      return;
    }
    if (!conn.push(chunk) && !paused) {
      paused = true;
      socket.pause();
    }
  });
  socket.on("end", () => conn.push(null));
  socket.on("close", () => conn.destroy());
  socket.on("error", () => conn.destroy());
  return conn;
}
