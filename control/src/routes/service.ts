/** Routes for routers' bootstrap and resync: the same rule as the MQTT routes (scheduler/routes.ts). */
import type { Route } from "@dionysia/shared";
import { asc } from "drizzle-orm";
import { routedAssets } from "../assets/service.ts";
import type { Db } from "../db/client.ts";
import { nodes, streams } from "../db/schema.ts";
import { toRouteNode } from "../nodes/service.ts";
import { routeFor, routeForAsset } from "../scheduler/routes.ts";

export async function listRoutes(db: Db): Promise<Route[]> {
  const [rows, nodeRows] = await Promise.all([
    db
      .select({
        id: streams.id,
        playbackPolicy: streams.playbackPolicy,
        nodeId: streams.nodeId,
        transcodeNodeId: streams.transcodeNodeId,
        status: streams.status,
        liveNodeId: streams.liveNodeId,
        reservedUntil: streams.reservedUntil,
      })
      .from(streams)
      .orderBy(asc(streams.id)),
    db.select().from(nodes),
  ]);
  const byId = new Map(nodeRows.map((n) => [n.id, toRouteNode(n)]));
  const now = Date.now();
  const out: Route[] = [];
  for (const s of rows) {
    const r = routeFor(s, byId, now);
    if (r) out.push(r);
  }
  for (const a of await routedAssets(db)) out.push(routeForAsset(a, byId, now));
  return out;
}
