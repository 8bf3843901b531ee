/** Webhooks, their deliveries, and the event log (ADR 0090, docs/webhooks.md). */
import { ErrorBody } from "@dionysia/shared";
import { Elysia, t } from "elysia";
import { authPlugin } from "../auth/index.ts";
import type { Deps } from "../deps.ts";
import {
  CreateWebhook,
  Delivery,
  DeliveryPage,
  DeliveryParams,
  DeliveryQuery,
  EventPage,
  EventQuery,
  UpdateWebhook,
  Webhook,
  WebhookList,
  WebhookParams,
  WebhookWithSecret,
} from "./model.ts";
import { listDeliveries, listEvents, resendDelivery } from "./outbox.ts";
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listWebhooks,
  rotateWebhookSecret,
  updateWebhook,
} from "./service.ts";

const authErrors = { 401: ErrorBody, 403: ErrorBody };
const bodyErrors = { 400: ErrorBody, 413: ErrorBody, 422: ErrorBody };

export function webhookRoutes(deps: Deps) {
  const allow = deps.config.webhookAllowPrivate;
  return new Elysia({ prefix: "/v1/webhooks", tags: ["webhooks"] })
    .use(authPlugin(deps))
    .post(
      "/",
      async ({ body, set }) => {
        const hook = await createWebhook(deps.db, body, allow);
        deps.log.info({ webhookId: hook.id, url: hook.url, eventTypes: hook.eventTypes }, "webhook created");
        set.status = 201;
        return hook;
      },
      {
        auth: "user",
        body: CreateWebhook,
        response: { 201: WebhookWithSecret, ...bodyErrors, ...authErrors },
        detail: {
          summary: "Create a webhook endpoint; the signing secret is shown once",
          description:
            'Every delivery is a POST of `{id, type, createdAt, data}` signed in `Dionysia-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` (docs/webhooks.md).',
        },
      },
    )
    .get("/", async () => ({ items: await listWebhooks(deps.db) }), {
      auth: "user",
      response: { 200: WebhookList, ...authErrors },
      detail: { summary: "List webhooks (never their secrets)" },
    })
    .get("/:id", async ({ params }) => getWebhook(deps.db, params.id), {
      auth: "user",
      params: WebhookParams,
      response: { 200: Webhook, 404: ErrorBody, ...authErrors },
      detail: { summary: "One webhook" },
    })
    .patch(
      "/:id",
      async ({ params, body }) => {
        const hook = await updateWebhook(deps.db, params.id, body, allow);
        deps.log.info({ webhookId: hook.id, enabled: hook.enabled }, "webhook updated");
        return hook;
      },
      {
        auth: "user",
        params: WebhookParams,
        body: UpdateWebhook,
        response: { 200: Webhook, 404: ErrorBody, ...bodyErrors, ...authErrors },
        detail: { summary: "Change a webhook's URL, event types, description or enabled flag" },
      },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        await deleteWebhook(deps.db, params.id);
        deps.log.info({ webhookId: params.id }, "webhook deleted");
        set.status = 204;
      },
      {
        auth: "user",
        params: WebhookParams,
        response: { 204: t.Void(), 404: ErrorBody, ...authErrors },
        detail: { summary: "Delete a webhook and its pending deliveries" },
      },
    )
    .post(
      "/:id/secret",
      async ({ params }) => {
        const hook = await rotateWebhookSecret(deps.db, params.id);
        deps.log.info({ webhookId: hook.id }, "webhook secret rotated");
        return hook;
      },
      {
        auth: "user",
        params: WebhookParams,
        response: { 200: WebhookWithSecret, 404: ErrorBody, ...authErrors },
        detail: { summary: "Rotate the signing secret (shown once); the old one stops signing at once" },
      },
    )
    .get(
      "/:id/deliveries",
      async ({ params, query }) => {
        await getWebhook(deps.db, params.id);
        return listDeliveries(deps.db, params.id, query);
      },
      {
        auth: "user",
        params: WebhookParams,
        query: DeliveryQuery,
        response: { 200: DeliveryPage, 404: ErrorBody, 422: ErrorBody, ...authErrors },
        detail: {
          summary:
            "Deliveries of this webhook, newest first, with their attempts (status, error, answer excerpt)",
        },
      },
    )
    .post(
      "/:id/deliveries/:deliveryId/resend",
      async ({ params, set }) => {
        const d = await resendDelivery(deps.db, params.id, params.deliveryId, deps.config.webhookRetryForMs);
        deps.log.info(
          { webhookId: params.id, deliveryId: d.id, eventId: d.eventId },
          "webhook delivery resent",
        );
        set.status = 202;
        return d;
      },
      {
        auth: "user",
        params: DeliveryParams,
        response: { 202: Delivery, 404: ErrorBody, 409: ErrorBody, ...authErrors },
        detail: { summary: "Send a delivery again now (and retry it as a new delivery would be)" },
      },
    );
}

export function eventRoutes(deps: Deps) {
  return new Elysia({ prefix: "/v1/events", tags: ["events"] })
    .use(authPlugin(deps))
    .get("/", async ({ query }) => listEvents(deps.db, query), {
      auth: "user",
      query: EventQuery,
      response: { 200: EventPage, 422: ErrorBody, ...authErrors },
      detail: {
        summary: "Recent events, newest first (the same ones webhooks receive), by type and stream",
      },
    });
}
