/**
 * One HTTP/1.1 request with its target sent byte for byte: `fetch` and `new Request` normalise
 * `..` and `%2e%2e` segments before the router could see them, a client on a raw socket does not.
 */
import { connect } from "node:net";

export function rawGet(port: number, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let data = "";
    const s = connect(port, "127.0.0.1", () =>
      s.write(`GET ${target} HTTP/1.1\r\nHost: router.test\r\nConnection: close\r\n\r\n`),
    );
    s.setEncoding("utf8");
    s.on("data", (d: string) => (data += d));
    s.on("error", reject);
    s.on("close", () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      const at = data.indexOf("\r\n\r\n");
      resolve({ status, body: at < 0 ? "" : data.slice(at + 4) });
    });
  });
}
