import { ErrorBody } from "@dionysia/shared";
import { Elysia, t } from "elysia";
import { authPlugin } from "../auth/index.ts";
import type { Deps } from "../deps.ts";
import { assertPullSourceAllowed } from "../pull/guard.ts";
import {
  CreateStream,
  IngestChoice,
  IngestQuery,
  ListStreamsQuery,
  Stream,
  StreamPage,
  StreamParams,
  StreamWithKey,
  UpdateStream,
} from "./model.ts";
import {
  createStream,
  deleteStream,
  getStream,
  listStreams,
  reserveIngest,
  rotateStreamKey,
  updateStream,
} from "./service.ts";

const authErrors = { 401: ErrorBody, 403: ErrorBody };
const bodyErrors = { 400: ErrorBody, 413: ErrorBody, 422: ErrorBody };

export function streamRoutes(deps: Deps) {
  const urls = {
    playbackBaseUrl: deps.config.playbackBaseUrl,
    defaultIngestHost: deps.config.defaultIngestHost,
    srtPortRange: deps.config.srtPortRange,
  };
  return new Elysia({ prefix: "/v1/streams", tags: ["streams"] })
    .use(authPlugin(deps))
    .post(
      "/",
      async ({ body, set }) => {
        await assertPullSourceAllowed(deps, body.source); // SSRF guard (ADR 0035)
        const s = await createStream(deps.db, body, urls, deps.events);
        deps.log.info({ streamId: s.id, profileId: s.profileId }, "stream created");
        set.status = 201;
        return s;
      },
      {
        auth: "user",
        body: CreateStream,
        response: { 201: StreamWithKey, ...bodyErrors, ...authErrors },
        detail: { summary: "Create a stream (streamKey and srtPassphrase are shown once)" },
      },
    )
    .get("/", ({ query }) => listStreams(deps.db, query, urls), {
      auth: "user",
      query: ListStreamsQuery,
      response: { 200: StreamPage, 422: ErrorBody, ...authErrors },
      detail: { summary: "List streams, oldest first (cursor pagination, optional status filter)" },
    })
    .get("/:id", ({ params }) => getStream(deps.db, params.id, urls), {
      auth: "user",
      params: StreamParams,
      response: { 200: Stream, 404: ErrorBody, ...authErrors },
      detail: { summary: "Get a stream" },
    })
    .patch(
      "/:id",
      async ({ params, body }) => {
        await assertPullSourceAllowed(deps, body.source); // SSRF guard (ADR 0035)
        const s = await updateStream(deps.db, params.id, body, urls, deps.events);
        deps.log.info({ streamId: s.id }, "stream updated");
        return s;
      },
      {
        auth: "user",
        params: StreamParams,
        body: UpdateStream,
        response: { 200: Stream, 404: ErrorBody, ...bodyErrors, ...authErrors },
        detail: { summary: "Change name, profile, playback policy, region/location or pull source" },
      },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        await deleteStream(deps.db, params.id, deps.events);
        deps.log.info({ streamId: params.id }, "stream deleted");
        set.status = 204;
      },
      {
        auth: "user",
        params: StreamParams,
        response: { 204: t.Void(), 404: ErrorBody, ...authErrors },
        detail: { summary: "Delete a stream" },
      },
    )
    .post(
      "/:id/key",
      async ({ params }) => {
        const s = await rotateStreamKey(deps.db, params.id, urls, deps.events);
        deps.log.info({ streamId: s.id }, "stream key rotated");
        return s;
      },
      {
        auth: "user",
        params: StreamParams,
        response: { 200: StreamWithKey, 404: ErrorBody, ...authErrors },
        detail: { summary: "Rotate the stream key (the new key is shown once; the old one stops working)" },
      },
    )
    .get(
      "/:id/ingest",
      async ({ params, query }) => {
        const { choice, reserved } = await reserveIngest(deps.db, params.id, query, urls, deps.events);
        if (reserved)
          deps.log.info({ streamId: params.id, nodeId: choice.nodeId }, "stream reserved on its ingest node");
        return choice;
      },
      {
        auth: "user",
        params: StreamParams,
        query: IngestQuery,
        response: { 200: IngestChoice, 404: ErrorBody, 422: ErrorBody, 503: ErrorBody, ...authErrors },
        detail: {
          summary:
            "Nearest online node with room for this stream (503 no_capacity when none); reserves an unplaced stream there",
        },
      },
    );
}
