/**
 * A broker's answer to one CONNECT, over TCP or MQTT's WebSocket transport: enough to check that
 * the deployed broker admits the credentials it should and refuses the rest, without a client
 * library (the e2e folder has none of its own).
 */
import { connect } from "node:net";

/** An MQTT 3.1.1 CONNECT (with a user and password when given). */
function connectPacket(user?: string, password?: string): Buffer {
  const str = (v: string) => {
    const b = Buffer.from(v);
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  };
  const flags = 0x02 | (user ? 0x80 : 0) | (password ? 0x40 : 0);
  const body = Buffer.concat([
    Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, flags, 0, 60]),
    str(`deploy-test-${crypto.randomUUID().slice(0, 8)}`),
    ...(user ? [str(user)] : []),
    ...(password ? [str(password)] : []),
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

const connackCode = (d: Uint8Array): number => {
  if (d[0] !== 0x20) throw new Error(`not a CONNACK: ${Buffer.from(d).toString("hex")}`);
  return d[3] as number;
};

/** The CONNACK's return code over TCP (0 accepted, 5 not authorized). */
export async function tcpConnack(
  host: string,
  port: number,
  user?: string,
  password?: string,
): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const sock = connect({ host, port }, () => sock.write(connectPacket(user, password)));
    sock.setTimeout(5000, () => reject(new Error("no CONNACK in 5 s")));
    sock.once("data", (d) => {
      sock.destroy();
      resolve(connackCode(d as Buffer));
    });
    sock.once("error", reject);
  });
}

/** The same over MQTT's WebSocket transport (subprotocol "mqtt"), as a browser connects. */
export async function wsConnack(url: string, user?: string, password?: string): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(url, "mqtt");
    ws.binaryType = "arraybuffer";
    const timer = setTimeout(() => reject(new Error("no CONNACK in 5 s")), 5000);
    ws.onopen = () => ws.send(connectPacket(user, password));
    ws.onmessage = (m) => {
      clearTimeout(timer);
      ws.close();
      resolve(connackCode(new Uint8Array(m.data as ArrayBuffer)));
    };
    ws.onerror = () => reject(new Error(`WebSocket ${url} failed`));
  });
}
