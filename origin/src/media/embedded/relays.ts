/**
 * The embedded server's input relays, reconciled to the stream specs: one ffmpeg SRT listener per
 * stream with a passphrase, one ffmpeg pull per `source`/`pullFrom`. The SRT port is the spec's
 * `srtPort` (control's, stable) when given, refused (never swapped) when something else holds it;
 * else one from the range. A restarted listener keeps its port.
 * Each re-publishes into the local RTMP server on `internal/{streamId}?t={nonce}`, with a fresh
 * nonce per spawn that only this process knows (ADR 0030).
 */
import { randomBytes } from "node:crypto";
import { type Logger, sha256Hex } from "@dionysia/shared";
import type { IngestProtocol, MediaStreamSpec } from "../types.ts";
import { pullArgs, srtListenerArgs } from "./ffmpeg-args.ts";
import { orphanSrtListeners, pickUdpPort, udpPortFree } from "./ports.ts";
import { RelayProcess } from "./relay-process.ts";

export const INTERNAL_APP = "internal";

export interface InternalPublisher {
  streamId: string;
  protocol: IngestProtocol;
  remoteAddr?: string;
}

export interface InputRelaysOptions {
  logger: Logger;
  /** The local RTMP port (known once the server listens). */
  rtmpPort: () => number;
  bindHost?: string;
  srtPortRange?: { from: number; to: number };
  ffmpegPath?: string;
  pullBackoff?: { initialMs?: number; maxMs?: number };
}

interface Relay {
  kind: "srt" | "pull";
  /** Changes when the spec changes in a way that needs a restart. */
  sig: string;
  proc: RelayProcess;
  port?: number;
  nonce?: string;
}

export class InputRelays {
  private readonly relays = new Map<string, Relay>();
  /** Every port control assigned in the current specs: the range fallback never hands these out. */
  private assigned = new Set<number>();
  /** Why a stream's input could not be started (its SRT port is taken...), until it is. */
  private readonly errors = new Map<string, string>();
  /** Internal publish tokens of our own ffmpeg relays: nonce -> what it publishes. */
  private readonly internal = new Map<string, InternalPublisher>();

  constructor(private readonly o: InputRelaysOptions) {}

  /** Starts, restarts and stops relays so that they match the specs. */
  async reconcile(specs: Iterable<MediaStreamSpec>): Promise<void> {
    const want = new Map<string, { kind: "srt" | "pull"; sig: string; spec: MediaStreamSpec }>();
    for (const s of specs) {
      const src = s.pullFrom ?? s.source ?? undefined;
      if (src) want.set(s.id, { kind: "pull", sig: `pull|${sha256Hex(src)}`, spec: s });
      else if (s.srtPassphrase)
        want.set(s.id, {
          kind: "srt",
          sig: `srt|${s.srtPort ?? "range"}|${sha256Hex(s.srtPassphrase)}`,
          spec: s,
        });
    }
    for (const id of this.errors.keys()) if (!want.has(id)) this.errors.delete(id);
    this.assigned = new Set([...want.values()].map((w) => w.spec.srtPort).filter((p): p is number => !!p));
    for (const [id, r] of this.relays) {
      if (want.get(id)?.sig === r.sig) continue;
      this.relays.delete(id);
      if (r.nonce) this.internal.delete(r.nonce);
      await r.proc.stop();
      this.o.logger.info({ streamId: id, kind: r.kind }, "input relay stopped");
    }
    for (const [id, w] of want) {
      if (this.relays.has(id)) continue;
      if (w.kind === "pull") this.startPull(w.spec, w.sig);
      else await this.startSrt(w.spec, w.sig);
    }
  }

  /** Who an internal publish with this nonce is (undefined: not one of ours). */
  internalPublisher(nonce: string): InternalPublisher | undefined {
    return this.internal.get(nonce);
  }

  srtPort(streamId: string): number | undefined {
    return this.relays.get(streamId)?.port;
  }

  /** Why the stream's input relay is not running, when it could not be started. */
  inputError(streamId: string): string | undefined {
    return this.errors.get(streamId);
  }

  pids(): number[] {
    return [...this.relays.values()].map((r) => r.proc.pid).filter((p): p is number => p !== undefined);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.relays.values()].map((r) => r.proc.stop()));
    this.relays.clear();
    this.internal.clear();
    this.errors.clear();
  }

  private internalUrl(relay: Relay, streamId: string, protocol: IngestProtocol, remoteAddr?: string): string {
    if (relay.nonce) this.internal.delete(relay.nonce);
    const nonce = randomBytes(18).toString("base64url");
    relay.nonce = nonce;
    this.internal.set(nonce, { streamId, protocol, ...(remoteAddr ? { remoteAddr } : {}) });
    return `rtmp://127.0.0.1:${this.o.rtmpPort()}/${INTERNAL_APP}/${streamId}?t=${nonce}`;
  }

  private startPull(spec: MediaStreamSpec, sig: string): void {
    const source = (spec.pullFrom ?? spec.source)!;
    let host: string | undefined;
    try {
      host = new URL(source).host;
    } catch {
      host = undefined;
    }
    const log = this.o.logger.child({ streamId: spec.id, kind: "pull" });
    const relay: Relay = { kind: "pull", sig, proc: undefined as unknown as RelayProcess };
    relay.proc = new RelayProcess({
      ffmpegPath: this.o.ffmpegPath ?? "ffmpeg",
      logger: log,
      initialBackoffMs: this.o.pullBackoff?.initialMs ?? 500,
      maxBackoffMs: this.o.pullBackoff?.maxMs ?? 30_000,
      args: () => pullArgs({ source, internalUrl: this.internalUrl(relay, spec.id, "pull", host) }),
    });
    this.relays.set(spec.id, relay);
    relay.proc.start();
    log.info({ sourceHost: host }, "pull input started");
  }

  /**
   * Whether the port can be bound, after killing an orphaned listener of a killed origin that
   * still holds it (ports.ts): with stable ports it would otherwise block the stream for good.
   */
  private async portFreeOrReclaimed(port: number, bind: string, log: Logger): Promise<boolean> {
    if (await udpPortFree(port, bind)) return true;
    const orphans = await orphanSrtListeners(port);
    if (orphans.length === 0) return false;
    log.warn({ port, pids: orphans }, "killing an orphaned SRT listener of a previous run holding the port");
    for (const pid of orphans) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      if (await udpPortFree(port, bind)) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }

  private async startSrt(spec: MediaStreamSpec, sig: string): Promise<void> {
    const reserved = new Set([...this.relays.values()].map((r) => r.port).filter((p): p is number => !!p));
    for (const p of this.assigned) reserved.add(p);
    const log = this.o.logger.child({ streamId: spec.id, kind: "srt" });
    const bind = this.o.bindHost ?? "0.0.0.0";
    let port: number | undefined;
    if (spec.srtPort !== undefined) {
      // Control's port or none: a listener elsewhere would leave the stream's URL pointing at
      // whatever holds this port.
      const holder = [...this.relays.entries()].find(([, r]) => r.port === spec.srtPort)?.[0];
      const free = !holder && (await this.portFreeOrReclaimed(spec.srtPort, bind, log));
      if (!free) {
        const why = `SRT port ${spec.srtPort} is taken${holder ? ` by stream ${holder}` : ""}; listener not started`;
        log.error({ port: spec.srtPort, bind, holder }, "SRT port taken: listener not started");
        this.errors.set(spec.id, why);
        return;
      }
      port = spec.srtPort;
    } else {
      const range = this.o.srtPortRange ?? { from: 10000, to: 10100 };
      port = await pickUdpPort(range, reserved, bind);
      if (port === undefined) {
        log.error({ range }, "no free UDP port left for an SRT listener");
        this.errors.set(spec.id, `no free UDP port in ${range.from}-${range.to} for the SRT listener`);
        return;
      }
    }
    this.errors.delete(spec.id);
    const passphrase = spec.srtPassphrase!;
    const relay: Relay = { kind: "srt", sig, port, proc: undefined as unknown as RelayProcess };
    relay.proc = new RelayProcess({
      ffmpegPath: this.o.ffmpegPath ?? "ffmpeg",
      logger: log,
      // A listener that ran at all was waiting for or serving a publisher: restart it at once.
      healthyAfterMs: 1000,
      initialBackoffMs: 500,
      maxBackoffMs: 10_000,
      args: () =>
        srtListenerArgs({
          port,
          passphrase,
          bind,
          internalUrl: this.internalUrl(relay, spec.id, "srt"),
        }),
    });
    this.relays.set(spec.id, relay);
    relay.proc.start();
    log.info({ port }, "SRT listener started");
  }
}
