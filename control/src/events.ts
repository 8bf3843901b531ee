/**
 * In-process events that the MQTT layer turns into desired state and routes. Emitted after the
 * database write has committed, so a listener always reads what the event describes.
 */
import { EventEmitter } from "node:events";

export interface ControlEventMap {
  "stream.created": { streamId: string };
  "stream.updated": { streamId: string; nodeId: string | null };
  "stream.deleted": { streamId: string; nodeId: string | null };
  "stream.assigned": { streamId: string; nodeId: string | null; previousNodeId: string | null };
  "stream.keyRotated": { streamId: string; nodeId: string | null };
  /** DELETE /v1/assets/{id}: its route goes, its node is told to remove the files. */
  "asset.deleted": { assetId: string; nodeId: string | null };
  "node.updated": { nodeId: string };
  /** DELETE /v1/nodes/{id}: the node's row is gone (its retained messages should go too). */
  "node.deleted": { nodeId: string };
  /** Signed playback (ADR 0060): a signing key was created or revoked. */
  "signingKeys.changed": { kid: string };
  /** The MQTT bus is up; `ws` is the embedded broker's WebSocket listener, when it has one (ADR 0070). */
  "mqtt.started": { url: string; embedded: boolean; ws?: { port: number; path: string } };
}

export type ControlEventName = keyof ControlEventMap;

export class ControlEvents {
  readonly #ee = new EventEmitter();

  constructor() {
    this.#ee.setMaxListeners(100);
  }

  on<K extends ControlEventName>(name: K, fn: (e: ControlEventMap[K]) => void): () => void {
    this.#ee.on(name, fn);
    return () => this.#ee.off(name, fn);
  }

  /** A throwing listener must not undo or fail the API call that already committed. */
  emit<K extends ControlEventName>(name: K, e: ControlEventMap[K]): void {
    for (const fn of this.#ee.listeners(name)) {
      try {
        (fn as (e: ControlEventMap[K]) => void)(e);
      } catch (err) {
        this.#ee.emit("listenerError", err, name);
      }
    }
  }

  onListenerError(fn: (err: unknown, name: string) => void): void {
    this.#ee.on("listenerError", fn);
  }
}
