/**
 * Signing keys and playback tokens (ADR 0060). Users' private keys are returned once and never
 * stored; control keeps one managed key of its own to issue tokens from the API. The live public
 * keys go to routers (GET /v1/playback-keys) and to routers and origins over MQTT (retained).
 */
import {
  generatePlaybackKeyPair,
  newId,
  type PlaybackKeys,
  type SigningAlg,
  signPlaybackToken,
} from "@dionysia/shared";
import type { Static } from "@sinclair/typebox";
import { and, asc, eq, isNull } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { type SigningKeyRow, signingKeys } from "../db/schema.ts";
import { ApiError, notFound } from "../errors/index.ts";
import type { ControlEvents } from "../events.ts";
import type { CreateSigningKey, SigningKey, SigningKeyWithPrivate } from "./model.ts";

const iso = (ms: number) => new Date(ms).toISOString();

function toKey(r: SigningKeyRow): Static<typeof SigningKey> {
  return {
    id: r.id,
    name: r.name,
    alg: r.alg,
    publicKey: r.publicJwk,
    managed: r.managed,
    createdAt: iso(r.createdAt),
  };
}

export async function createSigningKey(
  db: Db,
  input: Static<typeof CreateSigningKey>,
  events?: ControlEvents,
): Promise<Static<typeof SigningKeyWithPrivate>> {
  const alg: SigningAlg = input.alg ?? "ES256";
  const pair = await generatePlaybackKeyPair(alg);
  const [row] = await db
    .insert(signingKeys)
    .values({
      id: newId("sk"),
      name: input.name ?? "",
      alg,
      publicJwk: pair.publicJwk,
      managed: false,
      privatePem: null,
      createdAt: Date.now(),
    })
    .returning();
  events?.emit("signingKeys.changed", { kid: row!.id });
  return { ...toKey(row!), privateKey: pair.privateKeyPem };
}

const live = isNull(signingKeys.revokedAt);

export async function listSigningKeys(db: Db): Promise<Static<typeof SigningKey>[]> {
  const rows = await db
    .select()
    .from(signingKeys)
    .where(live)
    .orderBy(asc(signingKeys.createdAt), asc(signingKeys.id));
  return rows.map(toKey);
}

export async function getSigningKey(db: Db, id: string): Promise<Static<typeof SigningKey>> {
  const [row] = await db
    .select()
    .from(signingKeys)
    .where(and(eq(signingKeys.id, id), live));
  if (!row) throw notFound("signing key", id);
  return toKey(row);
}

/**
 * Revocation: the row stays (audit), its tokens stop verifying as soon as routers and origins get
 * the new key list. Control's own key may be deleted too; a new one is made on the next token.
 */
export async function revokeSigningKey(db: Db, id: string, events?: ControlEvents): Promise<void> {
  const done = await db
    .update(signingKeys)
    .set({ revokedAt: Date.now(), privatePem: null })
    .where(and(eq(signingKeys.id, id), live))
    .returning({ id: signingKeys.id });
  if (done.length === 0) throw notFound("signing key", id);
  events?.emit("signingKeys.changed", { kid: id });
}

/**
 * The live public keys as routers and origins receive them. `ts` is the last change (creation or
 * revocation), the same from HTTP and MQTT, so a receiver keeps the newest list whichever comes last.
 */
export async function playbackKeysMessage(db: Db): Promise<PlaybackKeys> {
  const rows = await db.select().from(signingKeys).orderBy(asc(signingKeys.createdAt), asc(signingKeys.id));
  let ts = 0;
  const keys: PlaybackKeys["keys"] = [];
  for (const r of rows) {
    ts = Math.max(ts, r.createdAt, r.revokedAt ?? 0);
    if (r.revokedAt === null) keys.push({ kid: r.id, alg: r.alg, jwk: r.publicJwk });
  }
  return { keys, ts };
}

/** Control's own signing key, made at first use (and again after it was deleted). */
export async function ensureControlKey(
  db: Db,
  events?: ControlEvents,
): Promise<{ kid: string; alg: SigningAlg; privateKeyPem: string }> {
  const [row] = await db
    .select()
    .from(signingKeys)
    .where(and(eq(signingKeys.managed, true), live))
    .orderBy(asc(signingKeys.createdAt))
    .limit(1);
  if (row?.privatePem) return { kid: row.id, alg: row.alg, privateKeyPem: row.privatePem };
  const pair = await generatePlaybackKeyPair("ES256");
  const kid = newId("sk");
  await db.insert(signingKeys).values({
    id: kid,
    name: "control",
    alg: "ES256",
    publicJwk: pair.publicJwk,
    managed: true,
    privatePem: pair.privateKeyPem,
    createdAt: Date.now(),
  });
  events?.emit("signingKeys.changed", { kid });
  return { kid, alg: "ES256", privateKeyPem: pair.privateKeyPem };
}

export interface IssuedToken {
  token: string;
  expiresAt: string;
  hls: string;
  dash?: string;
}

/** A token for one stream, signed with control's key; `playback` are the stream's router URLs. */
export async function issuePlaybackToken(
  db: Db,
  streamId: string,
  playback: { hls: string; dash?: string },
  input: { ttlSeconds: number; aud?: "v" | "t" },
  events?: ControlEvents,
): Promise<IssuedToken> {
  if (input.ttlSeconds < 1) throw new ApiError(422, "validation", "ttlSeconds must be at least 1");
  const key = await ensureControlKey(db, events);
  const exp = Math.floor(Date.now() / 1000) + input.ttlSeconds;
  const token = await signPlaybackToken(key, { sub: streamId, aud: input.aud ?? "v", exp });
  const q = `?token=${token}`;
  return {
    token,
    expiresAt: iso(exp * 1000),
    hls: playback.hls + q,
    ...(playback.dash ? { dash: playback.dash + q } : {}),
  };
}
