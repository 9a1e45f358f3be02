// Inspecting webhook deliveries (behind the API key): GET /v1/webhooks/dead-letters lists what
// failed for good, GET /v1/webhooks/:hook/deliveries/:id shows one delivery's state.

import { Hono } from "hono";
import { ApiError, invalidRequest } from "../errors.js";
import type { AppEnv } from "../types.js";
import type { DeadLetter } from "./consumer.js";
import { isValidDeliveryId, readDelivery } from "./deliveries.js";
import { hooks } from "./hooks.js";

export const webhookAdmin = new Hono<AppEnv>();

webhookAdmin.get("/webhooks/dead-letters", async (c) => {
  const tenant = c.get("tenant");
  const letters: DeadLetter[] = [];
  for (const hook of hooks.values()) {
    if (hook.tenant !== tenant) continue;
    const listed = await c.env.CONVERSATIONS.list<DeadLetter>({ prefix: `webhook-dead-letters/${hook.name}/` });
    for (const key of listed.keys) if (key.metadata) letters.push(key.metadata);
  }
  letters.sort((left, right) => right.failed_at - left.failed_at);
  return c.json({ object: "list", data: letters });
});

webhookAdmin.get("/webhooks/:hook/deliveries/:id", async (c) => {
  const hook = hooks.get(c.req.param("hook"));
  if (!hook || hook.tenant !== c.get("tenant")) throw new ApiError(404, "No such hook.", { code: "unknown_hook" });
  const id = c.req.param("id");
  if (!isValidDeliveryId(id)) throw invalidRequest("Invalid delivery id.", "id", "invalid_delivery_id");
  const record = await readDelivery(c.env.CONVERSATIONS, hook.name, id);
  if (!record) throw new ApiError(404, "No such delivery.", { code: "delivery_not_found" });
  const redact = c.get("log").redact;
  return c.json({ object: "webhook.delivery", ...record, ...(record.answer ? { answer: redact(record.answer) } : {}) });
});
