import { ErrorBody } from "@dionysia/shared";
import { Elysia, t } from "elysia";
import { authPlugin } from "../auth/index.ts";
import type { Deps } from "../deps.ts";
import { Profile, ProfileList, ProfileParams, ProfileSpec } from "./model.ts";
import { createProfile, deleteProfile, getProfile, listProfiles, replaceProfile } from "./service.ts";

const authErrors = { 401: ErrorBody, 403: ErrorBody };
const bodyErrors = { 400: ErrorBody, 413: ErrorBody, 422: ErrorBody };

export function profileRoutes(deps: Deps) {
  return new Elysia({ prefix: "/v1/profiles", tags: ["profiles"] })
    .use(authPlugin(deps))
    .post(
      "/",
      async ({ body, set }) => {
        const p = await createProfile(deps.db, body);
        deps.log.info({ profileId: p.id }, "profile created");
        set.status = 201;
        return p;
      },
      {
        auth: "user",
        body: ProfileSpec,
        response: { 201: Profile, ...bodyErrors, ...authErrors },
        detail: { summary: "Create a profile (ABR ladder); 422 lists every problem" },
      },
    )
    .get("/", async () => ({ items: await listProfiles(deps.db) }), {
      auth: "user",
      response: { 200: ProfileList, ...authErrors },
      detail: { summary: "List built-in and user profiles" },
    })
    .get("/:id", ({ params }) => getProfile(deps.db, params.id), {
      auth: "user",
      params: ProfileParams,
      response: { 200: Profile, 404: ErrorBody, ...authErrors },
      detail: { summary: "Get a profile" },
    })
    .put(
      "/:id",
      async ({ params, body }) => {
        const p = await replaceProfile(deps.db, params.id, body, deps.events);
        deps.log.info({ profileId: p.id }, "profile replaced");
        return p;
      },
      {
        auth: "user",
        params: ProfileParams,
        body: ProfileSpec,
        response: { 200: Profile, 404: ErrorBody, 409: ErrorBody, ...bodyErrors, ...authErrors },
        detail: { summary: "Replace a user profile (built-ins are read-only: 409)" },
      },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        await deleteProfile(deps.db, params.id);
        deps.log.info({ profileId: params.id }, "profile deleted");
        set.status = 204;
      },
      {
        auth: "user",
        params: ProfileParams,
        response: { 204: t.Void(), 404: ErrorBody, 409: ErrorBody, ...authErrors },
        detail: { summary: "Delete a user profile (409 when in use or built in)" },
      },
    );
}
