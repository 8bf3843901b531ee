/** Routes for routers' bootstrap: every placed stream with the online nodes that serve it. */
import type { Route } from "@dionysia/shared";
import { asc } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { nodes, streams } from "../db/schema.ts";
import { buildRoute, type RouteNode } from "../mqtt/messages.ts";
import { placementsOf } from "../network/plan.ts";

export async function listRoutes(db: Db): Promise<Route[]> {
  const [rows, nodeRows] = await Promise.all([
    db
      .select({
        id: streams.id,
        playbackPolicy: streams.playbackPolicy,
        nodeId: streams.nodeId,
        transcodeNodeId: streams.transcodeNodeId,
        status: streams.status,
      })
      .from(streams)
      .orderBy(asc(streams.id)),
    db.select().from(nodes),
  ]);
  const byId = new Map<string, RouteNode>(
    nodeRows.map((n) => [
      n.id,
      {
        id: n.id,
        publicUrl: n.publicUrl,
        region: n.region,
        lat: n.lat,
        lon: n.lon,
        online: n.state === "online",
      },
    ]),
  );
  const out: Route[] = [];
  for (const s of rows) {
    // Like the MQTT routes: only streams their serving node reports live.
    if (!s.nodeId || s.status !== "live") continue;
    const r = buildRoute(s, placementsOf(s), byId);
    if (r) out.push(r);
  }
  return out;
}
