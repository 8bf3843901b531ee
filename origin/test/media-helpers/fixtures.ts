import {
  BUILTIN_PROFILES,
  createLogger,
  type Logger,
  newSrtPassphrase,
  newStreamId,
  newStreamKey,
  sha256Hex,
} from "@dionysia/shared";
import type { MediaStreamSpec } from "../../src/media/types.ts";

export const testLogger = createLogger({
  service: "origin-test",
  level: process.env.TEST_LOG_LEVEL ?? "silent",
});

export const PROFILE = BUILTIN_PROFILES["builtin-360p"]!;

export interface TestStream {
  key: string;
  spec: MediaStreamSpec;
}

export function makeStream(extra: Partial<MediaStreamSpec> = {}): TestStream {
  const key = newStreamKey();
  return { key, spec: { id: newStreamId(), keyHash: sha256Hex(key), profile: PROFILE, ...extra } };
}

export function makeSrtStream(): TestStream & { passphrase: string } {
  const passphrase = newSrtPassphrase();
  return { ...makeStream({ srtPassphrase: passphrase }), passphrase };
}

/** A random 40-port window high in the ephemeral range, so parallel suites rarely collide. */
export function randomPortRange(): { from: number; to: number } {
  const from = 20000 + Math.floor(Math.random() * 2000) * 20;
  return { from, to: from + 39 };
}

/** A JSON logger whose lines the test can read (for "the log says the real reason"). */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    service: "origin-test",
    level: "info",
    destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  });
  return { logger, lines };
}
