/**
 * Streams: creation with a one-time key (and its own SRT port), cursor-paginated listing,
 * updates, key rotation, and where to push. Claims, status reports and scheduler assignments are
 * in assignment.ts. Events are emitted after commit.
 */
import {
  type CreateStream,
  DEFAULT_PROFILE_ID,
  DEFAULT_RETENTION_DAYS,
  ID_CHARS,
  newSrtPassphrase,
  newStreamId,
  newStreamKey,
  type ProfileSpec,
  type Stream,
  type StreamLadder,
  type StreamStatusValue,
  type StreamWarning,
  type StreamWithKey,
  sha256Hex,
  type UpdateStream,
} from "@dionysia/shared";
import { and, asc, eq, gt, or, type SQL } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { type NodeRow, nodes, type ProfileRow, profiles, type StreamRow, streams } from "../db/schema.ts";
import { ApiError, notFound } from "../errors/index.ts";
import type { ControlEvents } from "../events.ts";
import { nodeViews } from "../nodes/service.ts";
import { canDegrade, minimumCost } from "../scheduler/ladder.ts";
import { isEligible, placeStream } from "../scheduler/placement.ts";
import { recordEvent, streamEventData } from "../webhooks/outbox.ts";
import { reserveStream } from "./assignment.ts";
import { type PortRange, withSrtPort } from "./srt-ports.ts";
import { ingestUrls, type MediaServer, nodeIngestHost, playbackUrls, withSecrets } from "./urls.ts";

export interface StreamSettings {
  playbackBaseUrl: string;
  defaultIngestHost: string;
  /** STREAM_SRT_PORT_RANGE: where per-stream SRT ports come from. */
  srtPortRange: PortRange;
}

const iso = (ms: number) => new Date(ms).toISOString();

function toStream(
  r: StreamRow,
  profile: Pick<ProfileRow, "spec"> | null | undefined,
  node: NodeRow | null | undefined,
  urls: StreamSettings,
  defaultMediaServer: MediaServer = "embedded",
): Stream {
  return {
    id: r.id,
    name: r.name,
    profileId: r.profileId,
    playbackPolicy: r.playbackPolicy,
    status: r.status,
    region: r.region,
    location: r.lat !== null && r.lon !== null ? { lat: r.lat, lon: r.lon } : null,
    source: r.source,
    nodeId: r.nodeId,
    reconnectWindowSeconds: r.reconnectWindowSeconds,
    record: r.record,
    recordingRetentionDays: r.recordingRetentionDays ?? DEFAULT_RETENTION_DAYS,
    ...(r.stats
      ? {
          stats: {
            ...(r.stats.bitrateKbps !== undefined ? { bitrateKbps: r.stats.bitrateKbps } : {}),
            ...(r.stats.fps !== undefined ? { fps: r.stats.fps } : {}),
            ...(r.stats.speed !== undefined ? { speed: r.stats.speed } : {}),
            ...(r.stats.lastError ? { lastError: r.stats.lastError } : {}),
            reportedAt: iso(r.stats.reportedAt),
          },
        }
      : {}),
    ladder: ladderOf(r, profile?.spec),
    ingest: ingestUrls({
      node: node ?? undefined,
      defaultHost: urls.defaultIngestHost,
      srtPort: r.srtPort,
      defaultMediaServer,
    }),
    playback: playbackUrls(urls.playbackBaseUrl, r.id, profile?.spec),
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  };
}

/** Requested vs served rungs: what the node reports, else what was admitted, else the whole ladder. */
function ladderOf(
  r: Pick<StreamRow, "admittedRenditions" | "servedRenditions">,
  spec: ProfileSpec | undefined,
): StreamLadder {
  const requested = spec?.renditions.map((x) => x.name) ?? [];
  return { requested, served: r.servedRenditions ?? r.admittedRenditions ?? requested };
}

/**
 * Warns when no known node could carry the profile even trimmed to its cheapest rung (or whole,
 * with `degrade: false`): every publish would be refused. Silent while no node is known.
 */
async function capacityWarnings(db: Db, profileId: string): Promise<StreamWarning[]> {
  const [[p], rows] = await Promise.all([
    db.select({ spec: profiles.spec }).from(profiles).where(eq(profiles.id, profileId)).limit(1),
    db.select({ capacity: nodes.capacity }).from(nodes),
  ]);
  if (!p || rows.length === 0) return [];
  const need = minimumCost(p.spec);
  const largest = Math.max(...rows.map((r) => r.capacity.loadUnits));
  if (need <= largest) return [];
  return [
    {
      code: "exceeds_capacity",
      message: `no known node can carry this profile: ${canDegrade(p.spec) ? "its cheapest rung" : "its whole ladder (degrade: false)"} costs ${need} load units, the largest node has ${largest}`,
    },
  ];
}

function withWarnings<T extends object>(s: T, warnings: StreamWarning[]): T & { warnings?: StreamWarning[] } {
  return warnings.length > 0 ? { ...s, warnings } : s;
}

/**
 * The media server an unplaced stream's URLs are written for: mediamtx when every known node runs
 * it, else the embedded server (the origin's default).
 */
async function unplacedMediaServer(db: Db): Promise<MediaServer> {
  const rows = await db.selectDistinct({ m: nodes.mediaServer }).from(nodes);
  return rows.length > 0 && rows.every((r) => r.m === "mediamtx") ? "mediamtx" : "embedded";
}

function selectStreams(db: Db) {
  return db
    .select({ stream: streams, profile: { spec: profiles.spec }, node: nodes })
    .from(streams)
    .leftJoin(profiles, eq(streams.profileId, profiles.id))
    .leftJoin(nodes, eq(streams.nodeId, nodes.id));
}

export async function getStreamRow(db: Db, id: string): Promise<StreamRow | undefined> {
  const [row] = await db.select().from(streams).where(eq(streams.id, id)).limit(1);
  return row;
}

export async function getStream(db: Db, id: string, urls: StreamSettings): Promise<Stream> {
  const [[row], server] = await Promise.all([
    selectStreams(db).where(eq(streams.id, id)).limit(1),
    unplacedMediaServer(db),
  ]);
  if (!row) throw notFound("stream", id);
  return toStream(row.stream, row.profile, row.node, urls, server);
}

async function requireProfile(db: Db, id: string): Promise<void> {
  const [p] = await db.select({ id: profiles.id }).from(profiles).where(eq(profiles.id, id)).limit(1);
  if (!p)
    throw new ApiError(422, "unknown_profile", `profile ${id} does not exist`, {
      problems: [{ path: "/profileId", message: "no such profile" }],
    });
}

export async function createStream(
  db: Db,
  input: CreateStream,
  urls: StreamSettings,
  events?: ControlEvents,
): Promise<StreamWithKey> {
  const profileId = input.profileId ?? DEFAULT_PROFILE_ID;
  await requireProfile(db, profileId);
  const streamKey = newStreamKey();
  const srtPassphrase = newSrtPassphrase();
  const now = Date.now();
  const row = await withSrtPort(db, urls.srtPortRange, async (srtPort) => {
    const [inserted] = await db
      .insert(streams)
      .values({
        id: newStreamId(),
        name: input.name,
        profileId,
        playbackPolicy: input.playbackPolicy ?? "public",
        status: "idle",
        region: input.region ?? null,
        lat: input.location?.lat ?? null,
        lon: input.location?.lon ?? null,
        source: input.source ?? null,
        reconnectWindowSeconds: input.reconnectWindowSeconds ?? null,
        record: input.record ?? false,
        recordingRetentionDays: input.recordingRetentionDays ?? null,
        nodeId: null,
        srtPort,
        keyHash: sha256Hex(streamKey),
        srtPassphrase,
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    return inserted as StreamRow;
  });
  // The outbox (ADR 0090) right after the commit: webhooks and GET /v1/events see it.
  await recordEvent(db, "stream.created", streamEventData(row), { streamId: row.id });
  events?.emit("stream.created", { streamId: row.id });
  // A push stream is reserved on its ingest node now, so the URLs in this reply work at once.
  if (row.source === null)
    await reserveIngest(db, row.id, input.location ?? {}, urls, events).catch(() => undefined);
  const stream = await getStream(db, row.id, urls);
  const warnings = await capacityWarnings(db, profileId);
  if (row.srtPort === null)
    warnings.push({
      code: "srt_ports_exhausted",
      message:
        "every port of STREAM_SRT_PORT_RANGE is taken: this stream has no SRT ingest on the embedded server",
    });
  const secrets = { streamKey, srtPassphrase };
  return withWarnings({ ...stream, ingest: withSecrets(stream.ingest, secrets), ...secrets }, warnings);
}

const CURSOR = new RegExp(`^(\\d{1,16}):(${ID_CHARS})$`);

/** Opaque cursor: the (createdAt, id) of the last item, so pages are stable under inserts. */
function encodeCursor(r: Pick<StreamRow, "createdAt" | "id">): string {
  return Buffer.from(`${r.createdAt}:${r.id}`).toString("base64url");
}

function decodeCursor(c: string): { createdAt: number; id: string } {
  const m = CURSOR.exec(Buffer.from(c, "base64url").toString());
  if (!m)
    throw new ApiError(422, "invalid_cursor", "cursor is not one this API returned", {
      problems: [{ path: "/cursor", message: "invalid cursor" }],
    });
  return { createdAt: Number(m[1]), id: m[2] as string };
}

export async function listStreams(
  db: Db,
  q: { limit?: number; cursor?: string; status?: StreamStatusValue },
  urls: StreamSettings,
): Promise<{ items: Stream[]; nextCursor: string | null }> {
  const limit = q.limit ?? 20;
  const conds: SQL[] = [];
  if (q.status) conds.push(eq(streams.status, q.status));
  if (q.cursor) {
    const c = decodeCursor(q.cursor);
    conds.push(
      or(
        gt(streams.createdAt, c.createdAt),
        and(eq(streams.createdAt, c.createdAt), gt(streams.id, c.id)),
      ) as SQL,
    );
  }
  const [rows, server] = await Promise.all([
    selectStreams(db)
      .where(conds.length ? and(...conds) : undefined)
      .orderBy(asc(streams.createdAt), asc(streams.id))
      .limit(limit + 1),
    unplacedMediaServer(db),
  ]);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map((r) => toStream(r.stream, r.profile, r.node, urls, server)),
    nextCursor: rows.length > limit && last ? encodeCursor(last.stream) : null,
  };
}

export async function updateStream(
  db: Db,
  id: string,
  patch: UpdateStream,
  urls: StreamSettings,
  events?: ControlEvents,
): Promise<Stream> {
  if (patch.profileId !== undefined) await requireProfile(db, patch.profileId);
  const set: Partial<StreamRow> = { updatedAt: Date.now() };
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.profileId !== undefined) {
    set.profileId = patch.profileId;
    // Rung names of the old ladder mean nothing in the new one; the next publish admits afresh.
    set.admittedRenditions = null;
    set.servedRenditions = null;
  }
  if (patch.playbackPolicy !== undefined) set.playbackPolicy = patch.playbackPolicy;
  if (patch.region !== undefined) set.region = patch.region;
  if (patch.location !== undefined) {
    set.lat = patch.location?.lat ?? null;
    set.lon = patch.location?.lon ?? null;
  }
  if (patch.source !== undefined) set.source = patch.source;
  if (patch.reconnectWindowSeconds !== undefined) set.reconnectWindowSeconds = patch.reconnectWindowSeconds;
  if (patch.record !== undefined) set.record = patch.record;
  if (patch.recordingRetentionDays !== undefined) set.recordingRetentionDays = patch.recordingRetentionDays;
  const [row] = await db.update(streams).set(set).where(eq(streams.id, id)).returning();
  if (!row) throw notFound("stream", id);
  events?.emit("stream.updated", { streamId: id, nodeId: row.nodeId });
  return withWarnings(await getStream(db, id, urls), await capacityWarnings(db, row.profileId));
}

export async function deleteStream(db: Db, id: string, events?: ControlEvents): Promise<void> {
  const [row] = await db.delete(streams).where(eq(streams.id, id)).returning();
  if (!row) throw notFound("stream", id);
  await recordEvent(db, "stream.deleted", streamEventData(row), { streamId: id });
  events?.emit("stream.deleted", { streamId: id, nodeId: row.nodeId });
}

/** New key (shown once); the old one stops working at once. The SRT passphrase rotates with it. */
export async function rotateStreamKey(
  db: Db,
  id: string,
  urls: StreamSettings,
  events?: ControlEvents,
): Promise<StreamWithKey> {
  const streamKey = newStreamKey();
  const srtPassphrase = newSrtPassphrase();
  const [row] = await db
    .update(streams)
    .set({ keyHash: sha256Hex(streamKey), srtPassphrase, updatedAt: Date.now() })
    .where(eq(streams.id, id))
    .returning({ nodeId: streams.nodeId });
  if (!row) throw notFound("stream", id);
  events?.emit("stream.keyRotated", { streamId: id, nodeId: row.nodeId });
  const stream = await getStream(db, id, urls);
  const secrets = { streamKey, srtPassphrase };
  return { ...stream, ingest: withSecrets(stream.ingest, secrets), ...secrets };
}

/**
 * Where a streamer should push, reserved: an unplaced stream is assigned (idle, holding no
 * capacity) to the chosen node, so its per-stream listeners (the embedded server's SRT port) are
 * up there before the streamer connects; a push to another node still claims it while idle.
 * Used by the ingest endpoint and by stream creation, so the URLs in both replies work.
 */
export async function reserveIngest(
  db: Db,
  id: string,
  at: { lat?: number; lon?: number },
  urls: StreamSettings,
  events?: ControlEvents,
): Promise<{ choice: Awaited<ReturnType<typeof chooseIngest>>; reserved: boolean }> {
  const choice = await chooseIngest(db, id, at, urls);
  const reserved = choice.nodeId !== null && (await reserveStream(db, id, choice.nodeId, events));
  return { choice, reserved };
}

/**
 * Where a streamer should push: the assigned node while it is healthy (sticky), else the nearest
 * eligible node with headroom (scheduler/placement.ts). No nodes known yet: the default host.
 */
export async function chooseIngest(
  db: Db,
  id: string,
  at: { lat?: number; lon?: number },
  urls: StreamSettings,
): Promise<{ nodeId: string | null; host: string; ingest: ReturnType<typeof ingestUrls> }> {
  const [row] = await db
    .select({ stream: streams, spec: profiles.spec })
    .from(streams)
    .innerJoin(profiles, eq(streams.profileId, profiles.id))
    .where(eq(streams.id, id))
    .limit(1);
  if (!row) throw notFound("stream", id);
  const { rows, views } = await nodeViews(db, id);
  if (rows.length === 0)
    return {
      nodeId: null,
      host: urls.defaultIngestHost,
      ingest: ingestUrls({ defaultHost: urls.defaultIngestHost, srtPort: row.stream.srtPort }),
    };
  const pick = (nodeId: string) => {
    const node = rows.find((n) => n.id === nodeId) as NodeRow;
    return {
      nodeId,
      host: nodeIngestHost(node),
      ingest: ingestUrls({ node, defaultHost: urls.defaultIngestHost, srtPort: row.stream.srtPort }),
    };
  };
  const current = views.find((v) => v.id === row.stream.nodeId);
  if (current && isEligible(current)) return pick(current.id);
  const s = row.stream;
  const location =
    at.lat !== undefined && at.lon !== undefined
      ? { lat: at.lat, lon: at.lon }
      : s.lat !== null && s.lon !== null
        ? { lat: s.lat, lon: s.lon }
        : null;
  // A node with room for the cheapest rung will admit the stream (trimmed): it counts.
  const placed = placeStream({ cost: minimumCost(row.spec), location, region: s.region }, views);
  if ("error" in placed)
    throw new ApiError(503, "no_capacity", "no online node has room for this stream now");
  return pick(placed.nodeId);
}
