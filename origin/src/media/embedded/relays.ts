/**
 * The embedded server's input relays, reconciled to the stream specs: one ffmpeg SRT listener per
 * stream with a passphrase (UDP port from the range), one ffmpeg pull per `source`/`pullFrom`.
 * Each re-publishes into the local RTMP server on `internal/{streamId}?t={nonce}`, with a fresh
 * nonce per spawn that only this process knows (ADR 0030).
 */
import { randomBytes } from "node:crypto";
import { type Logger, sha256Hex } from "@dionysia/shared";
import type { IngestProtocol, MediaStreamSpec } from "../types.ts";
import { pullArgs, srtListenerArgs } from "./ffmpeg-args.ts";
import { pickUdpPort } from "./ports.ts";
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
        want.set(s.id, { kind: "srt", sig: `srt|${sha256Hex(s.srtPassphrase)}`, spec: s });
    }
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

  pids(): number[] {
    return [...this.relays.values()].map((r) => r.proc.pid).filter((p): p is number => p !== undefined);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.relays.values()].map((r) => r.proc.stop()));
    this.relays.clear();
    this.internal.clear();
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

  private async startSrt(spec: MediaStreamSpec, sig: string): Promise<void> {
    const reserved = new Set([...this.relays.values()].map((r) => r.port).filter((p): p is number => !!p));
    const range = this.o.srtPortRange ?? { from: 10000, to: 10100 };
    const port = await pickUdpPort(range, reserved);
    const log = this.o.logger.child({ streamId: spec.id, kind: "srt" });
    if (port === undefined) {
      log.error({ range }, "no free UDP port left for an SRT listener");
      return;
    }
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
          bind: this.o.bindHost ?? "0.0.0.0",
          internalUrl: this.internalUrl(relay, spec.id, "srt"),
        }),
    });
    this.relays.set(spec.id, relay);
    relay.proc.start();
    log.info({ port }, "SRT listener started");
  }
}
