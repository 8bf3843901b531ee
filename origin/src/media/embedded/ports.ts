/** Picking free UDP ports for SRT listeners from the configured range. */
import { createSocket } from "node:dgram";

/** True when a UDP socket can bind the port right now (nothing else listens there). */
export function udpPortFree(port: number, host = "0.0.0.0"): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    s.once("error", () => {
      s.close();
      resolve(false);
    });
    s.bind(port, host, () => {
      s.close(() => resolve(true));
    });
  });
}

/** First port of the range that is neither reserved by us nor bound by anyone else. */
export async function pickUdpPort(
  range: { from: number; to: number },
  reserved: Set<number>,
  host = "0.0.0.0",
): Promise<number | undefined> {
  for (let p = range.from; p <= range.to; p++) {
    if (reserved.has(p)) continue;
    if (await udpPortFree(p, host)) return p;
  }
  return undefined;
}
