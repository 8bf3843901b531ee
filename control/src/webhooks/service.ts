/**
 * Webhooks (ADR 0090): the one writer of the `webhooks` table. The URL is checked with
 * `checkWebhookUrl` on create and patch (422, nothing written); the signing secret is generated
 * here and returned only by create and rotate.
 */
import { newId, randomBase62 } from "@dionysia/shared";
import type { Static } from "@sinclair/typebox";
import { asc, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { type WebhookRow, webhooks } from "../db/schema.ts";
import { ApiError, notFound } from "../errors/index.ts";
import type { WebhookAllowPrivate } from "./config.ts";
import type { CreateWebhook, UpdateWebhook, Webhook, WebhookWithSecret } from "./model.ts";
import { deleteWebhookAndDeliveries } from "./outbox.ts";
import { checkWebhookUrl } from "./url.ts";

const iso = (ms: number) => new Date(ms).toISOString();

export const newWebhookSecret = () => `whsec_${randomBase62(40)}`;

function toWebhook(r: WebhookRow): Static<typeof Webhook> {
  return {
    id: r.id,
    url: r.url,
    description: r.description,
    eventTypes: (r.eventTypes as Static<typeof Webhook>["eventTypes"]) ?? null,
    enabled: r.enabled,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  };
}

async function assertUrl(url: string, allow: WebhookAllowPrivate): Promise<string> {
  const v = await checkWebhookUrl(url, allow);
  if (v.ok) return v.url.href;
  throw new ApiError(422, "url_not_allowed", `url refused: ${v.reason}`, {
    problems: [{ path: "/url", message: v.reason }],
  });
}

export async function createWebhook(
  db: Db,
  input: Static<typeof CreateWebhook>,
  allow: WebhookAllowPrivate,
): Promise<Static<typeof WebhookWithSecret>> {
  const url = await assertUrl(input.url, allow);
  const secret = newWebhookSecret();
  const now = Date.now();
  const [row] = await db
    .insert(webhooks)
    .values({
      id: newId("wh"),
      url,
      description: input.description ?? "",
      eventTypes: input.eventTypes ?? null,
      enabled: input.enabled ?? true,
      secret,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  return { ...toWebhook(row as WebhookRow), secret };
}

export async function listWebhooks(db: Db): Promise<Static<typeof Webhook>[]> {
  return (await db.select().from(webhooks).orderBy(asc(webhooks.createdAt), asc(webhooks.id))).map(toWebhook);
}

export async function getWebhook(db: Db, id: string): Promise<Static<typeof Webhook>> {
  const [row] = await db.select().from(webhooks).where(eq(webhooks.id, id));
  if (!row) throw notFound("webhook", id);
  return toWebhook(row);
}

export async function updateWebhook(
  db: Db,
  id: string,
  patch: Static<typeof UpdateWebhook>,
  allow: WebhookAllowPrivate,
): Promise<Static<typeof Webhook>> {
  await getWebhook(db, id); // 404 before the URL check
  const set: Partial<WebhookRow> = { updatedAt: Date.now() };
  if (patch.url !== undefined) set.url = await assertUrl(patch.url, allow);
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.eventTypes !== undefined) set.eventTypes = patch.eventTypes;
  if (patch.enabled !== undefined) set.enabled = patch.enabled;
  const [row] = await db.update(webhooks).set(set).where(eq(webhooks.id, id)).returning();
  if (!row) throw notFound("webhook", id);
  return toWebhook(row);
}

/** A new signing secret; the old one stops signing at once. */
export async function rotateWebhookSecret(db: Db, id: string): Promise<Static<typeof WebhookWithSecret>> {
  const secret = newWebhookSecret();
  const [row] = await db
    .update(webhooks)
    .set({ secret, updatedAt: Date.now() })
    .where(eq(webhooks.id, id))
    .returning();
  if (!row) throw notFound("webhook", id);
  return { ...toWebhook(row), secret };
}

/** The webhook goes with its deliveries (events stay in the log). */
export async function deleteWebhook(db: Db, id: string): Promise<void> {
  if (!(await deleteWebhookAndDeliveries(db, id))) throw notFound("webhook", id);
}
