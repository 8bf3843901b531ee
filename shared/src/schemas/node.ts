import { type Static, Type as T } from "@sinclair/typebox";
import { NodeCapacity, NodeIngestEndpoints, NodeStateValue } from "./mqtt.ts";

export const Node = T.Object({
  id: T.String(),
  region: T.String(),
  lat: T.Number(),
  lon: T.Number(),
  publicUrl: T.String(),
  ingest: NodeIngestEndpoints,
  capacity: NodeCapacity,
  encoders: T.Array(T.String()),
  mediaServer: T.String(),
  version: T.String(),
  state: NodeStateValue,
  cordoned: T.Boolean(),
  draining: T.Boolean(),
  load: T.Object({
    used: T.Number(),
    cpu: T.Number(),
    ingressBps: T.Number(),
    egressBps: T.Number(),
    streams: T.Integer(),
  }),
  firstSeen: T.String({ format: "date-time" }),
  lastSeen: T.String({ format: "date-time" }),
});
export type Node = Static<typeof Node>;

export const UpdateNode = T.Object(
  {
    cordoned: T.Optional(T.Boolean({ description: "No new streams are placed on a cordoned node" })),
    draining: T.Optional(T.Boolean({ description: "Cordon and move pull streams away" })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateNode = Static<typeof UpdateNode>;
