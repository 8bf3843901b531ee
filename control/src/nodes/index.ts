import { ErrorBody } from "@dionysia/shared";
import { Elysia, t } from "elysia";
import { authPlugin } from "../auth/index.ts";
import type { Deps } from "../deps.ts";
import { Node, NodeList, NodeParams, UpdateNode } from "./model.ts";
import { deleteNode, getNode, listNodes, updateNode } from "./service.ts";

const authErrors = { 401: ErrorBody, 403: ErrorBody };

export function nodeRoutes(deps: Deps) {
  return new Elysia({ prefix: "/v1/nodes", tags: ["nodes"] })
    .use(authPlugin(deps))
    .get("/", async () => ({ items: await listNodes(deps.db) }), {
      auth: "user",
      response: { 200: NodeList, ...authErrors },
      detail: { summary: "List origin nodes" },
    })
    .get("/:id", ({ params }) => getNode(deps.db, params.id), {
      auth: "user",
      params: NodeParams,
      response: { 200: Node, 404: ErrorBody, ...authErrors },
      detail: { summary: "Get a node" },
    })
    .patch(
      "/:id",
      async ({ params, body }) => {
        const n = await updateNode(deps.db, params.id, body, deps.events);
        deps.log.info({ nodeId: n.id, cordoned: n.cordoned, draining: n.draining }, "node updated");
        return n;
      },
      {
        auth: "admin",
        params: NodeParams,
        body: UpdateNode,
        response: {
          200: Node,
          400: ErrorBody,
          404: ErrorBody,
          413: ErrorBody,
          422: ErrorBody,
          ...authErrors,
        },
        detail: { summary: "Cordon or drain a node (admin)" },
      },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        await deleteNode(deps.db, params.id, deps.events);
        deps.log.info({ nodeId: params.id }, "node deleted");
        set.status = 204;
      },
      {
        auth: "admin",
        params: NodeParams,
        response: { 204: t.Void(), 404: ErrorBody, ...authErrors },
        detail: { summary: "Forget a node and unassign its streams (admin)" },
      },
    );
}
