import {
  CreateStream,
  IngestUrls,
  Stream,
  StreamStatusValue,
  StreamWithKey,
  UpdateStream,
} from "@dionysia/shared";
import { t } from "elysia";

export { CreateStream, Stream, StreamWithKey, UpdateStream };

export const StreamParams = t.Object({ id: t.String({ maxLength: 128 }) });

export const ListStreamsQuery = t.Object(
  {
    limit: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: t.Optional(t.String({ maxLength: 512, description: "nextCursor of the previous page" })),
    status: t.Optional(StreamStatusValue),
  },
  { additionalProperties: false },
);

export const StreamPage = t.Object({
  items: t.Array(Stream),
  nextCursor: t.Union([t.String(), t.Null()], { description: "null on the last page" }),
});

export const IngestQuery = t.Object(
  {
    lat: t.Optional(t.Number({ minimum: -90, maximum: 90 })),
    lon: t.Optional(t.Number({ minimum: -180, maximum: 180 })),
  },
  { additionalProperties: false },
);

export const IngestChoice = t.Object({
  nodeId: t.Union([t.String(), t.Null()], { description: "null while no node is known" }),
  host: t.String(),
  ingest: IngestUrls,
});
