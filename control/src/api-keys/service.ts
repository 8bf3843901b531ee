import { newApiKey, newId, sha256Hex } from "@dionysia/shared";
import type { Static } from "@sinclair/typebox";
import { and, asc, eq, isNull } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { type ApiKeyRow, apiKeys } from "../db/schema.ts";
import { notFound } from "../errors/index.ts";
import type { ApiKey, ApiKeyWithSecret, CreateApiKey } from "./model.ts";

const iso = (ms: number) => new Date(ms).toISOString();

function toApiKey(r: ApiKeyRow): Static<typeof ApiKey> {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    createdAt: iso(r.createdAt),
    revokedAt: r.revokedAt === null ? null : iso(r.revokedAt),
  };
}

export async function createApiKey(
  db: Db,
  input: Static<typeof CreateApiKey>,
): Promise<Static<typeof ApiKeyWithSecret>> {
  const key = newApiKey();
  const [row] = await db
    .insert(apiKeys)
    .values({
      id: newId("key"),
      name: input.name,
      role: input.role ?? "user",
      keyHash: sha256Hex(key),
      createdAt: Date.now(),
    })
    .returning();
  return { ...toApiKey(row!), key };
}

export async function listApiKeys(db: Db): Promise<Static<typeof ApiKey>[]> {
  const rows = await db.select().from(apiKeys).orderBy(asc(apiKeys.createdAt), asc(apiKeys.id));
  return rows.map(toApiKey);
}

/** Revocation keeps the row (audit trail); a revoked key no longer authenticates. */
export async function revokeApiKey(db: Db, id: string): Promise<void> {
  const done = await db
    .update(apiKeys)
    .set({ revokedAt: Date.now() })
    .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  if (done.length === 0) throw notFound("API key", id);
}
