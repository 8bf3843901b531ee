/**
 * Per-stream SRT ports assigned by control (desired `srtPort`), with real ffmpeg: the listener is
 * on that port, keeps it when the listener or the whole server restarts, refuses (log + input
 * error) rather than moving when the port is taken, and a deleted stream's URL reaches no one.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createSocket, type Socket } from "node:dgram";
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { loadConfig } from "@dionysia/shared";
import { isAlive as pidAlive, publishRtmp, publishSrt, waitFor } from "@dionysia/shared/testkit";
import { execa } from "execa";
import { createKeyAuthority } from "../src/auth/key-authority.ts";
import { srtListenerArgs } from "../src/media/embedded/ffmpeg-args.ts";
import { EmbeddedMediaServer } from "../src/media/embedded/index.ts";
import { udpPortFree } from "../src/media/embedded/ports.ts";
import { createMediaServer, mediaConfigSpec } from "../src/media/index.ts";
import type { MediaStreamSpec, PublishEvent } from "../src/media/types.ts";
import { createOriginMetrics } from "../src/metrics/index.ts";
import { captureLogger, makeSrtStream, randomPortRange } from "./media-helpers/fixtures.ts";

const hasFfmpeg = Bun.which("ffmpeg") !== null;
if (!hasFfmpeg) console.warn("skipping embedded SRT port tests: ffmpeg not on PATH");

const win = randomPortRange();
/** The fallback range: the first 10 ports of our window; control's ports come from the rest. */
const range = { from: win.from, to: win.from + 9 };
const assigned = (i: number) => win.from + 20 + i;

/** Alive and not a zombie (an orphan killed here is reaped by pid 1 whenever it gets to it). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return pidAlive(pid);
  }
}

function bindUdp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    s.once("error", reject);
    s.bind(port, "127.0.0.1", () => resolve(s));
  });
}

describe.skipIf(!hasFfmpeg)("embedded SRT listeners on control-assigned ports", () => {
  let specs: MediaStreamSpec[] = [];
  const published: PublishEvent[] = [];
  const { logger, lines } = captureLogger();
  const servers: EmbeddedMediaServer[] = [];
  const metrics = createOriginMetrics();
  const a = makeSrtStream();
  const b = makeSrtStream();
  a.spec.srtPort = assigned(0);
  b.spec.srtPort = assigned(1);

  async function newServer(): Promise<EmbeddedMediaServer> {
    const s = new EmbeddedMediaServer({
      rtmpPort: 0,
      bindHost: "127.0.0.1",
      srtPortRange: range,
      logger,
      publishRejected: metrics.publishRejected,
      authority: createKeyAuthority({ local: () => specs, nodeId: "node-test", logger }),
    });
    s.onPublish((e) => published.push(e));
    servers.push(s);
    await s.start();
    return s;
  }

  /** Pushes until the listener (maybe restarting) takes the publish; resolves when onPublish fires. */
  async function pushUntilLive(port: number, passphrase: string, streamId: string) {
    const before = published.filter((e) => e.streamId === streamId).length;
    await waitFor(
      `SRT publish of ${streamId} on ${port}`,
      async () => {
        await publishSrt("127.0.0.1", port, passphrase, 2).done;
        return published.filter((e) => e.streamId === streamId).length > before;
      },
      30000,
      200,
    );
  }

  let server: EmbeddedMediaServer;
  beforeAll(async () => {
    server = await newServer();
  });
  afterAll(async () => {
    for (const s of servers) await s.stop();
  }, 30000);

  test("the listener is on the desired srtPort and takes a push with the passphrase", async () => {
    specs = [a.spec];
    await server.configure(specs);
    expect(server.srtPort(a.spec.id)).toBe(assigned(0));
    expect(server.inputError(a.spec.id)).toBeUndefined();
    await pushUntilLive(assigned(0), a.passphrase, a.spec.id);
    expect(published.at(-1)).toMatchObject({ streamId: a.spec.id, protocol: "srt" });
  }, 60000);

  test("a killed listener comes back on the same port; so does a restarted server", async () => {
    // The listener restarts by itself after each publisher leaves: take the one running now.
    const pid = await waitFor("a running listener", () => server.processes()[0], 10000);
    process.kill(pid, "SIGKILL");
    await waitFor("new listener", () => !pidAlive(pid) && server.processes().some((p) => p !== pid), 15000);
    expect(server.srtPort(a.spec.id)).toBe(assigned(0));
    await pushUntilLive(assigned(0), a.passphrase, a.spec.id);

    // Origin restart: a fresh server with the same desired state listens on the same port.
    await server.stop();
    server = await newServer();
    await server.configure(specs);
    expect(server.srtPort(a.spec.id)).toBe(assigned(0));
    await pushUntilLive(assigned(0), a.passphrase, a.spec.id);
  }, 90000);

  test("a taken port is refused (log + input error), never swapped for another; freed → used", async () => {
    const squatter = await bindUdp(assigned(1));
    try {
      specs = [a.spec, b.spec];
      await server.configure(specs);
      expect(server.srtPort(b.spec.id)).toBeUndefined();
      expect(server.inputError(b.spec.id)).toContain(`SRT port ${assigned(1)} is taken`);
      expect(lines.find((l) => l.msg === "SRT port taken: listener not started")).toMatchObject({
        streamId: b.spec.id,
        port: assigned(1),
      });
      // Two streams given one port: the second is refused, the first keeps it.
      const twin = makeSrtStream();
      twin.spec.srtPort = assigned(0);
      await server.configure([a.spec, b.spec, twin.spec]);
      expect(server.srtPort(a.spec.id)).toBe(assigned(0));
      expect(server.srtPort(twin.spec.id)).toBeUndefined();
      expect(server.inputError(twin.spec.id)).toContain(`by stream ${a.spec.id}`);
    } finally {
      await new Promise<void>((r) => squatter.close(() => r()));
    }
    await server.configure(specs);
    expect(server.srtPort(b.spec.id)).toBe(assigned(1));
    expect(server.inputError(b.spec.id)).toBeUndefined();
  }, 60000);

  test.skipIf(!existsSync("/proc/self/stat"))(
    "an orphaned listener of a killed origin holding the port is reclaimed; a live one is not",
    async () => {
      const d = makeSrtStream();
      d.spec.srtPort = assigned(2);
      const args = srtListenerArgs({
        port: assigned(2),
        passphrase: d.passphrase,
        bind: "127.0.0.1",
        internalUrl: `rtmp://127.0.0.1:9/internal/${d.spec.id}?t=old`,
      });
      // A live listener (its parent, this test, is alive): never killed, the port is refused.
      const live = execa("ffmpeg", args, {
        reject: false,
        stdin: "ignore",
        stdout: "ignore",
        stderr: "ignore",
      });
      try {
        await waitFor(
          "live listener bound",
          async () => !(await udpPortFree(assigned(2), "127.0.0.1")),
          10000,
        );
        await server.configure([...specs, d.spec]);
        expect(server.srtPort(d.spec.id)).toBeUndefined();
        expect(server.inputError(d.spec.id)).toContain("is taken");
        expect(pidAlive(live.pid!)).toBe(true);
      } finally {
        live.kill("SIGKILL");
        await live;
      }
      // An orphan: started through a shell that exits at once, so its parent is gone (as after a
      // SIGKILLed origin).
      const sh = await execa("sh", ["-c", 'ffmpeg "$@" >/dev/null 2>&1 & echo $!', "sh", ...args]);
      const orphan = Number(String(sh.stdout).trim());
      try {
        await waitFor("orphan bound", async () => !(await udpPortFree(assigned(2), "127.0.0.1")), 10000);
        await server.configure([...specs, d.spec]);
        expect(server.srtPort(d.spec.id)).toBe(assigned(2));
        expect(running(orphan)).toBe(false);
        expect(lines.find((l) => String(l.msg).startsWith("killing an orphaned SRT listener"))).toMatchObject(
          {
            port: assigned(2),
            pids: [orphan],
          },
        );
      } finally {
        if (running(orphan)) process.kill(orphan, "SIGKILL");
        await server.configure(specs);
      }
    },
    60000,
  );

  test("an SRT push to a stream an RTMP publisher holds → refused as already_live (log + metric)", async () => {
    const rtmp = publishRtmp(`rtmp://127.0.0.1:${server.rtmpPort()}/live/${a.key}`, 10);
    try {
      await waitFor(
        "RTMP publisher live",
        () => server.active().find((e) => e.streamId === a.spec.id),
        15000,
      );
      const before = lines.length;
      const srt = publishSrt("127.0.0.1", assigned(0), a.passphrase, 3);
      const logged = await waitFor(
        "already_live refusal",
        () => lines.slice(before).find((l) => l.msg === "publish rejected: already_live"),
        15000,
      );
      expect(logged).toMatchObject({ reason: "already_live", protocol: "srt", streamId: a.spec.id });
      const text = await metrics.registry.metrics();
      expect(text).toContain('dionysia_origin_publish_rejected_total{reason="already_live"} 1');
      expect(await srt.done).not.toBe(0);
      expect(server.active().filter((e) => e.streamId === a.spec.id)).toHaveLength(1);
    } finally {
      await rtmp.stop();
    }
  }, 60000);

  test("a deleted stream's SRT URL reaches no other stream's listener", async () => {
    specs = [b.spec];
    await server.configure(specs);
    expect(server.srtPort(a.spec.id)).toBeUndefined();
    const before = published.length;
    // a's old URL: nothing listens there any more.
    expect(await publishSrt("127.0.0.1", assigned(0), a.passphrase, 2).done).not.toBe(0);
    // a's passphrase on b's port: b's listener refuses it in the SRT handshake.
    expect(await publishSrt("127.0.0.1", assigned(1), a.passphrase, 2).done).not.toBe(0);
    expect(published.length).toBe(before);
  }, 60000);
});

/** Whether a TCP connection to host:port is accepted (loopback addresses only). */
function tcpReachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

describe("embedded listen address", () => {
  const { logger } = captureLogger();
  const start = async (env: Record<string, string>) => {
    const server = createMediaServer({
      config: loadConfig(mediaConfigSpec, { MEDIA_SERVER: "embedded", RTMP_PORT: "0", ...env }),
      authority: createKeyAuthority({ local: () => [], nodeId: "n", logger }),
      logger,
      defaultBindHost: "127.0.0.1",
    }) as EmbeddedMediaServer;
    await server.start();
    return server;
  };

  test("RTMP listens on ORIGIN_HOST (127.0.0.1) unless MEDIA_BIND_HOST says otherwise", async () => {
    const narrow = await start({});
    try {
      expect(await tcpReachable("127.0.0.1", narrow.rtmpPort())).toBe(true);
      // 127.0.0.2 is loopback too, but not the address the server bound.
      expect(await tcpReachable("127.0.0.2", narrow.rtmpPort())).toBe(false);
    } finally {
      await narrow.stop();
    }
    const wide = await start({ MEDIA_BIND_HOST: "0.0.0.0" });
    try {
      expect(await tcpReachable("127.0.0.2", wide.rtmpPort())).toBe(true);
    } finally {
      await wide.stop();
    }
  });
});
