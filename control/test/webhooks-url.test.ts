/**
 * The pure parts of webhooks (ADR 0090): the destination check on literal IPs (IPv4, IPv6,
 * IPv4-mapped, odd spellings) and on every address a name resolves to, the back-off bounds, and
 * the receiver example of docs/webhooks.md run against control's signer.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signWebhook, verifyWebhook } from "@dionysia/shared";
import { retryDelay } from "../src/webhooks/dispatcher.ts";
import { streamTransitions } from "../src/webhooks/outbox.ts";
import { checkWebhookUrl } from "../src/webhooks/url.ts";

const noDns = async (): Promise<string[]> => {
  throw new Error("no DNS in this test");
};
const dns =
  (answers: Record<string, string[]>) =>
  async (host: string): Promise<string[]> =>
    answers[host] ?? [];

describe("checkWebhookUrl", () => {
  test("public literal addresses pass; inside ones are refused by class", async () => {
    for (const url of ["https://93.184.216.34/hook", "http://[2606:4700::1111]:8443/x"])
      expect((await checkWebhookUrl(url, "none", noDns)).ok, url).toBe(true);
    const refused: [string, string][] = [
      ["http://127.0.0.1/", "loopback"],
      ["http://2130706433/", "loopback"], // 127.0.0.1 as one number
      ["http://0x7f.1/", "loopback"],
      ["http://[::1]/", "loopback"],
      ["http://[::ffff:127.0.0.1]/", "loopback"],
      ["http://10.1.2.3/", "private"],
      ["http://172.16.0.1/", "private"],
      ["http://192.168.0.10/", "private"],
      ["http://100.64.0.1/", "private"],
      ["http://[fd12:3456::1]/", "private"],
      ["http://[::ffff:192.168.1.1]/", "private"],
      ["http://169.254.169.254/", "metadata"],
      ["http://169.254.10.10/", "link-local"],
      ["http://[fe80::1]/", "link-local"],
      ["http://0.0.0.0/", "unspecified"],
      ["http://[::]/", "unspecified"],
      ["http://224.0.0.1/", "multicast"],
    ];
    for (const [url, cls] of refused) {
      const v = await checkWebhookUrl(url, "none", noDns);
      expect(v.ok, url).toBe(false);
      if (!v.ok) expect(v.reason, url).toContain(`a ${cls} address`);
    }
  });

  test("WEBHOOK_ALLOW_PRIVATE: loopback lets loopback through, private also private ranges; never link-local", async () => {
    const ok = async (url: string, allow: "none" | "loopback" | "private") =>
      (await checkWebhookUrl(url, allow, noDns)).ok;
    expect(await ok("http://127.0.0.1:9000/", "loopback")).toBe(true);
    expect(await ok("http://[::1]/", "loopback")).toBe(true);
    expect(await ok("http://10.0.0.1/", "loopback")).toBe(false);
    expect(await ok("http://10.0.0.1/", "private")).toBe(true);
    expect(await ok("http://127.0.0.1/", "private")).toBe(true);
    for (const allow of ["none", "loopback", "private"] as const) {
      expect(await ok("http://169.254.169.254/", allow)).toBe(false);
      expect(await ok("http://[fe80::1]/", allow)).toBe(false);
      expect(await ok("http://0.0.0.0/", allow)).toBe(false);
    }
  });

  test("a name is checked on every address it resolves to", async () => {
    const resolve = dns({
      "hooks.example.com": ["93.184.216.34", "2606:4700::1"],
      "sneaky.example.com": ["93.184.216.34", "10.0.0.5"],
      "v6-loop.example.com": ["::1"],
    });
    expect((await checkWebhookUrl("https://hooks.example.com/x", "none", resolve)).ok).toBe(true);
    const sneaky = await checkWebhookUrl("https://sneaky.example.com/x", "none", resolve);
    expect(sneaky).toEqual({
      ok: false,
      reason: expect.stringContaining("sneaky.example.com resolves to 10.0.0.5"),
    });
    expect((await checkWebhookUrl("https://v6-loop.example.com/", "none", resolve)).ok).toBe(false);
    expect((await checkWebhookUrl("https://nowhere.example.com/", "none", resolve)).ok).toBe(false);
    expect((await checkWebhookUrl("https://down.example.com/", "none", noDns)).ok).toBe(false);
  });

  test("only http and https, no credentials", async () => {
    for (const url of [
      "ftp://93.184.216.34/",
      "file:///etc/passwd",
      "gopher://93.184.216.34/",
      "javascript:alert(1)",
    ])
      expect((await checkWebhookUrl(url, "private", noDns)).ok, url).toBe(false);
    expect((await checkWebhookUrl("https://u:p@93.184.216.34/", "none", noDns)).ok).toBe(false);
  });
});

describe("retries and transitions", () => {
  test("full jitter: attempt n waits within [0, min(max, base·2^(n-1))]", () => {
    expect(retryDelay(1, 1000, 60_000, () => 0.999)).toBe(999);
    expect(retryDelay(3, 1000, 60_000, () => 0.5)).toBe(2000);
    expect(retryDelay(30, 1000, 60_000, () => 0.999)).toBe(59_940);
    expect(retryDelay(5, 1000, 60_000, () => 0)).toBe(0);
    expect(retryDelay(10_000, 1000, 60_000, () => 1)).toBe(60_000);
  });

  test("stream status changes map to events once per transition", () => {
    expect(streamTransitions("idle", "starting")).toEqual(["stream.connected"]);
    expect(streamTransitions("starting", "live")).toEqual(["stream.active"]);
    expect(streamTransitions("idle", "live")).toEqual(["stream.connected", "stream.active"]);
    expect(streamTransitions("live", "live")).toEqual([]);
    expect(streamTransitions("live", "starting")).toEqual([]);
    expect(streamTransitions("live", "idle")).toEqual(["stream.disconnected", "stream.idle"]);
    expect(streamTransitions("live", "error")).toEqual(["stream.disconnected", "stream.error"]);
    expect(streamTransitions("error", "idle")).toEqual(["stream.idle"]);
  });
});

describe("signature", () => {
  const secret = "whsec_0123456789abcdefghijklmnopqrstuvwxyzABCD";
  const body = JSON.stringify({
    id: "evt_1",
    type: "stream.created",
    createdAt: "2026-01-01T00:00:00.000Z",
    data: {},
  });

  test("verifyWebhook accepts control's signature and nothing altered or late", () => {
    const now = Math.floor(Date.now() / 1000);
    const header = signWebhook(secret, body, now);
    expect(verifyWebhook(secret, header, body)).toBe(true);
    expect(verifyWebhook(secret, `${header},v1=${"0".repeat(64)}`, body)).toBe(true); // extra v1 (rotation)
    expect(verifyWebhook(secret, header, `${body} `)).toBe(false);
    expect(verifyWebhook(`${secret}x`, header, body)).toBe(false);
    expect(verifyWebhook(secret, header.replace(`t=${now}`, `t=${now + 1}`), body)).toBe(false);
    expect(verifyWebhook(secret, signWebhook(secret, body, now - 301), body)).toBe(false);
    expect(verifyWebhook(secret, signWebhook(secret, body, now - 100), body, { toleranceS: 60 })).toBe(false);
    for (const bad of [undefined, "", "v1=abc", "t=abc,v1=00", `t=${now}`])
      expect(verifyWebhook(secret, bad, body)).toBe(false);
  });

  test("the receiver example in docs/webhooks.md verifies what control signs", async () => {
    const md = readFileSync(join(import.meta.dir, "../../docs/webhooks.md"), "utf8");
    const code = /```ts\n([\s\S]*?)```/.exec(md)?.[1];
    expect(code).toContain("export function verifyDionysiaSignature");
    const file = join(tmpdir(), `dionysia-webhook-doc-${process.pid}.ts`);
    writeFileSync(file, code as string);
    const mod = (await import(file)) as {
      verifyDionysiaSignature(
        secret: string,
        header: string | null,
        body: string,
        toleranceS?: number,
      ): boolean;
    };
    const header = signWebhook(secret, body);
    expect(mod.verifyDionysiaSignature(secret, header, body)).toBe(true);
    expect(mod.verifyDionysiaSignature(secret, header, body.replace("evt_1", "evt_2"))).toBe(false);
    expect(
      mod.verifyDionysiaSignature(
        secret,
        signWebhook(secret, body, Math.floor(Date.now() / 1000) - 600),
        body,
      ),
    ).toBe(false);
  });
});
