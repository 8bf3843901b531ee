/** libSQL client factory: local file, remote sqld/Turso, or an embedded replica of a remote. */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { type Client, createClient } from "@libsql/client";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import * as schema from "./schema.ts";

export type Db = LibSQLDatabase<typeof schema>;

export interface DbOptions {
  url: string;
  syncUrl?: string;
  authToken?: string;
}

/** Local path of a `file:` URL (relative paths stay relative to the working directory). */
export function localDbPath(url: string): string | undefined {
  if (!url.startsWith("file:")) return undefined;
  if (url.startsWith("file://")) return fileURLToPath(url);
  return url.slice("file:".length).split("?")[0];
}

export async function openDb(o: DbOptions): Promise<{ db: Db; client: Client }> {
  const path = localDbPath(o.url);
  if (path && path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const client = createClient({
    url: o.url,
    ...(o.syncUrl ? { syncUrl: o.syncUrl } : {}),
    ...(o.authToken ? { authToken: o.authToken } : {}),
    // Busy timeout on every pooled connection: concurrent writers wait instead of failing.
    timeout: 10_000,
  });
  if (o.syncUrl) await client.sync();
  // WAL (a property of the file, so set once) lets readers run during a write.
  if (path && path !== ":memory:") await client.execute("PRAGMA journal_mode = WAL");
  return { db: drizzle(client, { schema }), client };
}
