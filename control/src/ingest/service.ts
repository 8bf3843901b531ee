/**
 * An origin asks about a key it does not know. The stream is found by the key's hash; the first
 * publish claims the stream for the asking node (sticky while the stream holds capacity there),
 * admitting the whole ladder, an overflow pair, or the ladder trimmed to what fits (ADR 0014).
 * Refusals carry one of the codes `unknown_key` (403), `no_capacity`, `already_live`,
 * `node_unavailable` (409): origins turn them into the streamer-facing reason.
 */
import {
  type IngestAuthorizeRequest,
  type IngestAuthorizeResponse,
  type Logger,
  type ProfileSpec,
  sha256Hex,
} from "@dionysia/shared";
import { eq } from "drizzle-orm";
import type { ControlConfig } from "../config.ts";
import type { Db } from "../db/client.ts";
import { profiles, type StreamRow, streams } from "../db/schema.ts";
import { ApiError } from "../errors/index.ts";
import type { ControlEvents } from "../events.ts";
import type { ControlMetrics } from "../metrics/service.ts";
import { getNodeRow, nodeViews } from "../nodes/service.ts";
import { canDegrade, servedProfile } from "../scheduler/ladder.ts";
import { holdsCapacity } from "../scheduler/load.ts";
import { planClaim } from "../scheduler/plans.ts";
import { claimStream } from "../streams/assignment.ts";

export interface AuthorizeDeps {
  db: Db;
  log: Logger;
  metrics: ControlMetrics;
  config: Pick<ControlConfig, "ingestReservationMs">;
  events?: ControlEvents;
}

export type RefusalReason = "unknown_key" | "no_capacity" | "already_live" | "node_unavailable";

function refuse(d: AuthorizeDeps, reason: RefusalReason, status: 403 | 409, message: string): never {
  d.metrics.ingestAuthFailures.inc({ reason });
  throw new ApiError(status, reason, message);
}

/**
 * Claims are planned and written one at a time per database handle: two publishes arriving
 * together must not both be admitted into the same headroom. (Across control instances the
 * telemetry-reported load catches an overcommit within one report.)
 */
const claimQueues = new WeakMap<Db, Promise<unknown>>();

function serialized<T>(db: Db, fn: () => Promise<T>): Promise<T> {
  const run = (claimQueues.get(db) ?? Promise.resolve()).then(fn, fn);
  claimQueues.set(
    db,
    run.catch(() => undefined),
  );
  return run;
}

function rungCount(served: readonly string[] | null, profile: ProfileSpec): number {
  return served?.length ?? profile.renditions.length;
}

export async function authorizeIngest(
  d: AuthorizeDeps,
  req: IngestAuthorizeRequest,
): Promise<IngestAuthorizeResponse> {
  const keyHash = sha256Hex(req.streamKey);
  const [row] = await d.db
    .select({ stream: streams, spec: profiles.spec })
    .from(streams)
    .innerJoin(profiles, eq(streams.profileId, profiles.id))
    .where(eq(streams.keyHash, keyHash))
    .limit(1);
  if (!row) {
    // The key itself is never logged: a typo'd key is one character away from a valid one.
    d.log.warn(
      { nodeId: req.nodeId, protocol: req.protocol, remoteAddr: req.remoteAddr },
      "ingest rejected: unknown key",
    );
    refuse(d, "unknown_key", 403, "not authorized");
  }
  const s = row.stream;
  const node = await getNodeRow(d.db, req.nodeId);
  if (!node) {
    // Not announced yet (no row to reference): authorize, leave placement to the announce.
    d.log.warn({ streamId: s.id, nodeId: req.nodeId }, "ingest authorized for an unknown node; not assigned");
    return { streamId: s.id, profileId: s.profileId, profile: row.spec, keyHash };
  }
  return serialized(d.db, () => admit(d, req, row.stream, row.spec, node.id, keyHash));
}

/** Plans and writes one claim (serialized per database handle). */
async function admit(
  d: AuthorizeDeps,
  req: IngestAuthorizeRequest,
  s: StreamRow,
  spec: ProfileSpec,
  nodeId: string,
  keyHash: string,
): Promise<IngestAuthorizeResponse> {
  const now = Date.now();
  let transcodeNodeId = s.transcodeNodeId;
  let admitted = s.admittedRenditions;
  // Every publish is admitted afresh, so trimmed rungs come back when there is room again. A
  // reconnect to the node that still holds the stream's capacity (live, or within its ingest
  // reservation or reconnect grace) keeps at least what it had: that capacity is its own.
  const sticky = s.nodeId === nodeId && holdsCapacity({ ...s, pull: s.source !== null }, now);
  const { views } = await nodeViews(d.db, s.id, now);
  // The publishing node is evidently alive, whatever its last registry state says.
  const live = views.map((v) => (v.id === nodeId ? { ...v, online: true } : v));
  const plan = planClaim({ id: s.id, profile: spec }, nodeId, live);
  const keep = sticky && ("error" in plan || rungCount(plan.served, spec) < rungCount(admitted, spec));
  if (!keep) {
    if ("error" in plan) {
      const reason = plan.error === "node_unavailable" ? "node_unavailable" : "no_capacity";
      d.log.warn({ streamId: s.id, nodeId, why: plan.error }, `ingest rejected: ${reason}`);
      refuse(
        d,
        reason,
        409,
        reason === "node_unavailable"
          ? `node ${nodeId} is cordoned or draining`
          : canDegrade(spec)
            ? `node ${nodeId} has no room for even the cheapest rung of this stream's ladder and no neighbour can transcode it`
            : `node ${nodeId} has no room for this stream's ladder (its profile forbids trimming) and no neighbour can transcode it`,
      );
    }
    transcodeNodeId = plan.kind === "overflow" ? plan.transcodeNodeId : null;
    admitted = plan.served;
    if (plan.kind === "overflow")
      d.log.info({ streamId: s.id, nodeId, transcodeNodeId }, "overflow: a neighbour transcodes");
    if (plan.served)
      d.log.info(
        {
          streamId: s.id,
          nodeId,
          requested: spec.renditions.map((r) => r.name),
          served: plan.served,
          cost: plan.cost,
        },
        "ladder trimmed to fit the node",
      );
  }
  const claimed = await claimStream(
    d.db,
    {
      streamId: s.id,
      nodeId,
      transcodeNodeId,
      admitted,
      reservedUntil: now + d.config.ingestReservationMs,
    },
    d.events,
  );
  if (!claimed) {
    d.log.warn({ streamId: s.id, nodeId }, "ingest rejected: already_live");
    refuse(d, "already_live", 409, "the stream is live on another healthy node");
  }
  d.log.info({ streamId: s.id, nodeId, protocol: req.protocol }, "ingest authorized");
  return { streamId: s.id, profileId: s.profileId, profile: servedProfile(spec, admitted), keyHash };
}
