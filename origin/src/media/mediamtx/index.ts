/**
 * mediamtx as the media server (production): the origin writes mediamtx.yml, runs mediamtx under
 * supervision (or attaches to one managed elsewhere through MEDIAMTX_API_URL), answers its HTTP
 * auth calls (auth.ts, mounted by the HTTP server at /internal/mediamtx/auth) and turns
 * `/v3/paths/list` polling into onPublish/onUnpublish.
 *
 * Paths: publishers use `live/{streamKey}`; pull inputs are `src/{streamId}` (mediamtx pulls them
 * natively); peers read `relay/{streamId}?token=...`, a path added through the API while the
 * stream is live whose source is this mediamtx's own `live/{key}` (ADR 0031).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { ID_CHARS, type Logger, sha256Hex } from "@dionysia/shared";
import type { Authorization } from "../../auth/publish-refusal.ts";
import { RelayProcess } from "../embedded/relay-process.ts";
import type { KeyAuthority, MediaServer, MediaStreamSpec, PublishEvent, UnpublishEvent } from "../types.ts";
import { type MediamtxAuthDeps, mediamtxAuthHandler } from "./auth.ts";
import { type MediamtxConfigOptions, renderMediamtxYaml } from "./config.ts";
import { fetchPaths, type MediamtxPathItem, protocolOf, readyChanges } from "./paths.ts";

const SRC_PATH = new RegExp(`^src/(${ID_CHARS})$`);

export interface MediamtxMediaServerOptions {
  authority: KeyAuthority;
  logger: Logger;
  /** mediamtx binary to run; omit together with apiUrl to attach to an external instance. */
  bin?: string;
  /** Attach mode: the control API of a mediamtx managed elsewhere (systemd). */
  apiUrl?: string;
  /** Where mediamtx.yml is written (managed mode). */
  configPath: string;
  config: MediamtxConfigOptions;
  publicHost?: string;
  relaySecret?: string;
  /** Counts refused publishes by reason (`dionysia_origin_publish_rejected_total`). */
  publishRejected?: MediamtxAuthDeps["publishRejected"];
  keyFailures?: MediamtxAuthDeps["keyFailures"];
  pollIntervalMs?: number;
}

export class MediamtxMediaServer implements MediaServer {
  readonly kind = "mediamtx" as const;
  private readonly log: Logger;
  private proc: RelayProcess | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private ready = new Set<string>();
  private readonly live = new Map<string, PublishEvent>();
  private specs = new Map<string, MediaStreamSpec>();
  /** keyHash → authorization for publishes control vouched for (not yet in the desired state). */
  private readonly authorized = new Map<string, Authorization>();
  private readonly publishCbs = new Set<(e: PublishEvent) => void>();
  private readonly unpublishCbs = new Set<(e: UnpublishEvent) => void>();
  private bytes = 0;
  private dynamicPaths = new Map<string, string>();
  private polling = false;

  constructor(private readonly o: MediamtxMediaServerOptions) {
    this.log = o.logger.child({ component: "media-mediamtx" });
  }

  get apiUrl(): string {
    return this.o.apiUrl ?? `http://127.0.0.1:${this.o.config.apiPort ?? 9997}`;
  }

  /** The handler for mediamtx's HTTP auth calls; mount it at the configured authHTTPAddress. */
  authHandler(): (req: Request) => Promise<Response> {
    return mediamtxAuthHandler({
      authority: this.o.authority,
      logger: this.o.logger,
      ...(this.o.relaySecret ? { relaySecret: this.o.relaySecret } : {}),
      ...(this.o.publishRejected ? { publishRejected: this.o.publishRejected } : {}),
      ...(this.o.keyFailures ? { keyFailures: this.o.keyFailures } : {}),
      onAuthorized: (key, auth) => this.authorized.set(sha256Hex(key), auth),
    });
  }

  async start(): Promise<void> {
    if (this.o.bin && !this.o.apiUrl) {
      await mkdir(dirname(this.o.configPath), { recursive: true });
      await writeFile(this.o.configPath, renderMediamtxYaml(this.o.config), { mode: 0o600 });
      this.proc = new RelayProcess({
        ffmpegPath: this.o.bin,
        args: () => [this.o.configPath],
        logger: this.log,
        initialBackoffMs: 1000,
        maxBackoffMs: 30_000,
      });
      this.proc.start();
      this.log.info({ configPath: this.o.configPath }, "mediamtx started");
    }
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await fetchPaths(this.apiUrl, 1000);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`mediamtx API not reachable: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    this.timer = setInterval(() => void this.poll(), this.o.pollIntervalMs ?? 1000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.proc?.stop();
    this.proc = undefined;
  }

  async configure(streams: MediaStreamSpec[]): Promise<void> {
    this.specs = new Map(streams.map((s) => [s.id, s]));
    const want = new Map<string, string>();
    for (const s of streams) {
      const src = s.pullFrom ?? s.source;
      if (src) want.set(`src/${s.id}`, src);
    }
    for (const name of [...this.dynamicPaths.keys()])
      if (name.startsWith("src/") && want.get(name) !== this.dynamicPaths.get(name))
        await this.deletePath(name);
    for (const [name, src] of want)
      if (!this.dynamicPaths.has(name)) await this.addPath(name, { source: src });
  }

  onPublish(cb: (e: PublishEvent) => void): () => void {
    this.publishCbs.add(cb);
    return () => this.publishCbs.delete(cb);
  }

  onUnpublish(cb: (e: UnpublishEvent) => void): () => void {
    this.unpublishCbs.add(cb);
    return () => this.unpublishCbs.delete(cb);
  }

  active(): PublishEvent[] {
    return [...this.live.values()];
  }

  endpoints() {
    const h = this.o.publicHost ?? "127.0.0.1";
    const c = this.o.config;
    return {
      rtmp: `rtmp://${h}:${c.rtmpPort ?? 1935}/live`,
      srt: `${h}:${c.srtPort ?? 8890}`,
      rtsp: `rtsp://${h}:${c.rtspPort ?? 8554}/live`,
      whip: `http://${h}:${c.webrtcPort ?? 8889}/live`,
      ...(this.o.relaySecret ? { relay: `rtsp://${h}:${c.rtspPort ?? 8554}/relay` } : {}),
    };
  }

  ingressBytes(): number {
    return this.bytes;
  }

  /** One poll of /v3/paths/list (also called by tests). */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const items = await fetchPaths(this.apiUrl);
      this.bytes = items.reduce((n, i) => n + (typeof i.bytesReceived === "number" ? i.bytesReceived : 0), 0);
      const { ready, gone, now } = readyChanges(this.ready, items);
      this.ready = now;
      for (const name of gone) await this.ended(name);
      for (const item of ready) await this.started(item);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "mediamtx paths poll failed");
    } finally {
      this.polling = false;
    }
  }

  private resolve(item: MediamtxPathItem): PublishEvent | null {
    const rtmp = `rtmp://127.0.0.1:${this.o.config.rtmpPort ?? 1935}`;
    const src = SRC_PATH.exec(item.name);
    if (src) {
      if (!this.specs.has(src[1]!)) return null;
      return { streamId: src[1]!, protocol: "pull", inputUrl: `${rtmp}/${item.name}` };
    }
    const live = /^live\/([^/]+)$/.exec(item.name);
    if (!live) return null;
    const hash = sha256Hex(live[1]!);
    const spec = [...this.specs.values()].find((s) => s.keyHash === hash);
    const auth = this.authorized.get(hash);
    const streamId = spec?.id ?? auth?.streamId;
    if (!streamId) return null;
    return {
      streamId,
      protocol: protocolOf(item.source?.type),
      inputUrl: `${rtmp}/${item.name}`,
      ...(spec || !auth ? {} : { profile: auth.profile, keyHash: auth.keyHash }),
    };
  }

  private async started(item: MediamtxPathItem): Promise<void> {
    const ev = this.resolve(item);
    if (!ev) {
      this.log.warn(
        { protocol: protocolOf(item.source?.type) },
        "a ready path matches no stream of this node",
      );
      return;
    }
    this.live.set(item.name, ev);
    if (this.o.relaySecret && item.name.startsWith("live/")) {
      await this.addPath(`relay/${ev.streamId}`, {
        source: `rtsp://127.0.0.1:${this.o.config.rtspPort ?? 8554}/${item.name}`,
        sourceOnDemand: true,
      });
    }
    this.log.info({ streamId: ev.streamId, protocol: ev.protocol }, "publish started");
    for (const cb of this.publishCbs) cb(ev);
  }

  private async ended(name: string): Promise<void> {
    const ev = this.live.get(name);
    if (!ev) return;
    this.live.delete(name);
    if (this.dynamicPaths.has(`relay/${ev.streamId}`)) await this.deletePath(`relay/${ev.streamId}`);
    this.log.info({ streamId: ev.streamId }, "publish ended");
    for (const cb of this.unpublishCbs) cb({ streamId: ev.streamId, reason: "path not ready" });
  }

  private async addPath(name: string, conf: Record<string, unknown>): Promise<void> {
    try {
      const res = await fetch(new URL(`/v3/config/paths/add/${name}`, this.apiUrl), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(conf),
        signal: AbortSignal.timeout(3000),
      });
      if (!res.ok) throw new Error(`status ${res.status}`);
      this.dynamicPaths.set(name, String(conf.source ?? ""));
    } catch (err) {
      this.log.error(
        { path: name.replace(/^live\/.*/, "live/<redacted>"), err: (err as Error).message },
        "mediamtx path add failed",
      );
    }
  }

  private async deletePath(name: string): Promise<void> {
    try {
      await fetch(new URL(`/v3/config/paths/delete/${name}`, this.apiUrl), {
        method: "DELETE",
        signal: AbortSignal.timeout(3000),
      });
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "mediamtx path delete failed");
    }
    this.dynamicPaths.delete(name);
  }
}
