import { BUILTIN_PROFILES, newId, type Profile, type ProfileSpec, validateProfile } from "@dionysia/shared";
import { and, asc, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { type ProfileRow, profiles, streams } from "../db/schema.ts";
import { ApiError, notFound } from "../errors/index.ts";
import type { ControlEvents } from "../events.ts";

const iso = (ms: number) => new Date(ms).toISOString();

function toProfile(r: ProfileRow): Profile {
  return {
    id: r.id,
    builtIn: r.builtIn,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
    ...r.spec,
  };
}

/** Built-ins are (re)written from code at every start so an upgrade ships their new definition. */
export async function seedBuiltinProfiles(db: Db): Promise<void> {
  const now = Date.now();
  await db.batch(
    Object.entries(BUILTIN_PROFILES).map(([id, spec]) =>
      db
        .insert(profiles)
        .values({ id, builtIn: true, spec, createdAt: now, updatedAt: now })
        .onConflictDoUpdate({ target: profiles.id, set: { spec, builtIn: true } }),
    ) as [never, ...never[]],
  );
}

function checkSpec(spec: ProfileSpec): void {
  const problems = validateProfile(spec);
  if (problems.length > 0)
    throw new ApiError(422, "invalid_profile", "the profile is not a usable ladder", { problems });
}

const readOnly = (id: string) =>
  new ApiError(409, "builtin_read_only", `profile ${id} is built in and cannot be changed or deleted`);

async function getProfileRow(db: Db, id: string): Promise<ProfileRow | undefined> {
  const [row] = await db.select().from(profiles).where(eq(profiles.id, id)).limit(1);
  return row;
}

export async function getProfile(db: Db, id: string): Promise<Profile> {
  const row = await getProfileRow(db, id);
  if (!row) throw notFound("profile", id);
  return toProfile(row);
}

export async function listProfiles(db: Db): Promise<Profile[]> {
  const rows = await db
    .select()
    .from(profiles)
    .orderBy(sql`${profiles.builtIn} desc`, asc(profiles.createdAt), asc(profiles.id));
  return rows.map(toProfile);
}

export async function createProfile(db: Db, spec: ProfileSpec): Promise<Profile> {
  checkSpec(spec);
  const now = Date.now();
  const [row] = await db
    .insert(profiles)
    .values({ id: newId("prof"), builtIn: false, spec, createdAt: now, updatedAt: now })
    .returning();
  return toProfile(row!);
}

/** Streams using the profile get `stream.updated`: their nodes' desired state carries the ladder. */
export async function replaceProfile(
  db: Db,
  id: string,
  spec: ProfileSpec,
  events?: ControlEvents,
): Promise<Profile> {
  const existing = await getProfileRow(db, id);
  if (!existing) throw notFound("profile", id);
  if (existing.builtIn) throw readOnly(id);
  checkSpec(spec);
  const [row] = await db
    .update(profiles)
    .set({ spec, updatedAt: Date.now() })
    .where(and(eq(profiles.id, id), eq(profiles.builtIn, false)))
    .returning();
  if (!row) throw notFound("profile", id);
  if (events) {
    const users = await db
      .select({ id: streams.id, nodeId: streams.nodeId })
      .from(streams)
      .where(eq(streams.profileId, id));
    for (const u of users) events.emit("stream.updated", { streamId: u.id, nodeId: u.nodeId });
  }
  return toProfile(row);
}

/** One statement: the in-use check and the delete cannot be split by a concurrent stream create. */
export async function deleteProfile(db: Db, id: string): Promise<void> {
  const existing = await getProfileRow(db, id);
  if (!existing) throw notFound("profile", id);
  if (existing.builtIn) throw readOnly(id);
  const deleted = await db
    .delete(profiles)
    .where(
      and(
        eq(profiles.id, id),
        eq(profiles.builtIn, false),
        sql`not exists (select 1 from ${streams} where ${streams.profileId} = ${id})`,
      ),
    )
    .returning({ id: profiles.id });
  if (deleted.length === 0) {
    const [use] = await db
      .select({ n: sql<number>`count(*)` })
      .from(streams)
      .where(eq(streams.profileId, id));
    if (use && use.n > 0)
      throw new ApiError(409, "profile_in_use", `profile ${id} is used by ${use.n} stream(s)`, {
        streams: use.n,
      });
    throw notFound("profile", id);
  }
}
