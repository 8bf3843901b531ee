/** API keys are stored as SHA-256 hashes and found by hash; env credentials compare in constant time. */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { type Logger, newApiKey, newId, safeEqual, sha256Hex } from "@dionysia/shared";
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { apiKeys } from "../db/schema.ts";

export type Role = "admin" | "user";
/** What a route needs: an API key of a role, or one of the service credentials. */
export type Need = Role | "node" | "router";

export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

export async function findApiKey(db: Db, key: string): Promise<{ id: string; role: Role } | undefined> {
  const [row] = await db
    .select({ id: apiKeys.id, role: apiKeys.role })
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, sha256Hex(key)), isNull(apiKeys.revokedAt)))
    .limit(1);
  return row;
}

/** Constant-time check of a presented credential against a configured one (unset never matches). */
export function matchesSecret(presented: string, configured: string | undefined): boolean {
  if (!configured) return false;
  return safeEqual(sha256Hex(presented), sha256Hex(configured));
}

export interface BootstrapResult {
  created: boolean;
  /** Where a generated key was written; undefined when the key came from the environment. */
  writtenTo?: string;
  /** The generated key itself, for the one-time print. */
  generatedKey?: string;
}

/**
 * Makes sure an admin key exists: DIONYSIA_ADMIN_KEY is registered (hashed) when given; otherwise,
 * on a database without any admin key, one is generated, written next to the database (0600).
 */
export async function ensureAdminKey(
  db: Db,
  o: { adminKey?: string; keyFileDir: string; log: Logger },
): Promise<BootstrapResult> {
  if (o.adminKey) {
    const hash = sha256Hex(o.adminKey);
    const inserted = await db
      .insert(apiKeys)
      .values({
        id: newId("key"),
        name: "bootstrap (DIONYSIA_ADMIN_KEY)",
        role: "admin",
        keyHash: hash,
        createdAt: Date.now(),
      })
      .onConflictDoNothing()
      .returning({ id: apiKeys.id });
    return { created: inserted.length > 0 };
  }
  const [existing] = await db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(and(eq(apiKeys.role, "admin"), isNull(apiKeys.revokedAt)))
    .limit(1);
  if (existing) return { created: false };
  const key = newApiKey();
  await db.insert(apiKeys).values({
    id: newId("key"),
    name: "bootstrap (generated)",
    role: "admin",
    keyHash: sha256Hex(key),
    createdAt: Date.now(),
  });
  const file = resolve(join(o.keyFileDir, "admin-key.txt"));
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${key}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    return { created: true, writtenTo: file, generatedKey: key };
  } catch (err) {
    o.log.warn({ err, file }, "could not write the admin key file; it is printed once on stderr only");
    return { created: true, generatedKey: key };
  }
}
