/** Routes for routers' bootstrap: every placed stream with the node that carries it. */
import type { Route } from "@dionysia/shared";
import { asc, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { nodes, streams } from "../db/schema.ts";

export async function listRoutes(db: Db): Promise<Route[]> {
  const rows = await db
    .select({ stream: streams, node: nodes })
    .from(streams)
    .innerJoin(nodes, eq(streams.nodeId, nodes.id))
    .orderBy(asc(streams.id));
  return rows.map(({ stream, node }) => ({
    id: stream.id,
    policy: stream.playbackPolicy,
    origins: [
      {
        nodeId: node.id,
        url: node.publicUrl,
        region: node.region,
        lat: node.lat,
        lon: node.lon,
        role: "origin",
      },
    ],
  }));
}
