/**
 * An origin asks about a key it does not know. The stream is found by the key's hash; the first
 * publish claims the stream for the asking node (sticky while the stream is live on a healthy node).
 */
import {
  type IngestAuthorizeRequest,
  type IngestAuthorizeResponse,
  type Logger,
  profileCost,
  sha256Hex,
} from "@dionysia/shared";
import { and, eq, ne, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { nodes, profiles, streams } from "../db/schema.ts";
import { ApiError } from "../errors/index.ts";
import type { ControlEvents } from "../events.ts";
import type { ControlMetrics } from "../metrics/service.ts";
import { getNodeRow, nodeViews } from "../nodes/service.ts";
import { planClaim } from "../scheduler/plans.ts";

export interface AuthorizeDeps {
  db: Db;
  log: Logger;
  metrics: ControlMetrics;
  events?: ControlEvents;
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
    d.metrics.ingestAuthFailures.inc({ reason: "unknown_key" });
    d.log.warn(
      { nodeId: req.nodeId, protocol: req.protocol, remoteAddr: req.remoteAddr },
      "ingest rejected: unknown key",
    );
    throw new ApiError(403, "forbidden", "not authorized");
  }
  const s = row.stream;
  const response = { streamId: s.id, profileId: s.profileId, profile: row.spec, keyHash };
  const node = await getNodeRow(d.db, req.nodeId);
  if (!node) {
    // Not announced yet (no row to reference): authorize, leave placement to the announce.
    d.log.warn({ streamId: s.id, nodeId: req.nodeId }, "ingest authorized for an unknown node; not assigned");
    return response;
  }
  let transcodeNodeId = s.transcodeNodeId;
  if (s.nodeId !== node.id) {
    const { views } = await nodeViews(d.db, s.id);
    // The publishing node is evidently alive, whatever its last registry state says.
    const live = views.map((v) => (v.id === node.id ? { ...v, online: true } : v));
    const cost = profileCost(row.spec);
    const plan = planClaim({ id: s.id, cost }, node.id, live);
    if ("error" in plan) {
      const reason = plan.error === "node_unavailable" ? "node_unavailable" : "no_capacity";
      d.metrics.ingestAuthFailures.inc({ reason });
      d.log.warn({ streamId: s.id, nodeId: node.id, cost, why: plan.error }, `ingest rejected: ${reason}`);
      throw new ApiError(
        409,
        reason,
        reason === "node_unavailable"
          ? `node ${node.id} is cordoned or draining`
          : `node ${node.id} has no room for this stream's profile and no neighbour can transcode it`,
      );
    }
    transcodeNodeId = plan.kind === "overflow" ? plan.transcodeNodeId : null;
    if (plan.kind === "overflow")
      d.log.info({ streamId: s.id, nodeId: node.id, transcodeNodeId }, "overflow: a neighbour transcodes");
  }
  // One conditional UPDATE: two nodes racing for the same stream cannot both win.
  const claimed = await d.db
    .update(streams)
    .set({ nodeId: node.id, transcodeNodeId, status: "starting", updatedAt: Date.now() })
    .where(
      and(
        eq(streams.id, s.id),
        or(
          sql`${streams.nodeId} is null`,
          eq(streams.nodeId, node.id),
          ne(streams.status, "live"),
          sql`not exists (select 1 from ${nodes} where ${nodes.id} = ${streams.nodeId} and ${nodes.state} = 'online')`,
        ),
      ),
    )
    .returning({ id: streams.id });
  if (claimed.length === 0) {
    d.metrics.ingestAuthFailures.inc({ reason: "already_live" });
    d.log.warn({ streamId: s.id, nodeId: node.id }, "ingest rejected: stream is live on another node");
    throw new ApiError(409, "already_live", "the stream is live on another healthy node");
  }
  if (s.nodeId !== node.id)
    d.events?.emit("stream.assigned", { streamId: s.id, nodeId: node.id, previousNodeId: s.nodeId });
  d.log.info({ streamId: s.id, nodeId: node.id, protocol: req.protocol }, "ingest authorized");
  return response;
}
