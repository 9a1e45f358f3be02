// POST /v1/webhooks/:hook — a third party's signed event. Verified on the raw bytes, recorded once
// per delivery id, queued, and acknowledged with 202 at once: senders give up after 10-30 s, and a
// tool-calling turn can take longer. The turn itself runs in the queue consumer.

import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { namedVariable } from "../env.js";
import { ApiError, invalidRequest } from "../errors.js";
import { readBodyBytes } from "../http/request-body.js";
import type { ClaimOutcome, LedgerApi } from "../ledger/claims.js";
import { claimKey, createClaims, parseResult } from "../ledger/claims.js";
import { sha256Hex } from "../lib/hash.js";
import { parseJsonWithin } from "../protocol/json-limits.js";
import type { AppEnv } from "../types.js";
import type { DeliveryRecord, WebhookJob } from "./deliveries.js";
import { DELIVERY_TTL_SECONDS, INLINE_PAYLOAD_LIMIT, isValidDeliveryId, jobQueue, payloadKey, webhookRunId, writeDelivery } from "./deliveries.js";
import { hooks } from "./hooks.js";
import { renderTemplate } from "./template.js";
import type { HookConfig } from "./types.js";
import { verifyGitHub, verifyStandardWebhook } from "./verify.js";

const DEFAULT_MAX_BODY_BYTES = 256 * 1024;
/** Accepting a delivery is a few KV and queue writes: a claim older than this was abandoned. */
const ACCEPT_LEASE_MS = 60_000;
/** A concurrent copy waits this long for the first copy to be accepted, then answers 409. */
const ACCEPT_WAIT_MS = 10_000;

export const webhookIngress = new Hono<AppEnv>();

function hookFor(name: string): HookConfig {
  const hook = hooks.get(name);
  if (!hook) throw new ApiError(404, `No webhook hook named "${name}".`, { code: "unknown_hook" });
  return hook;
}

webhookIngress.post(
  "/webhooks/:hook",
  async (c, next) => {
    const hook = hookFor(c.req.param("hook"));
    const maxSize = hook.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES;
    return bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError(413, `The webhook body is over the ${maxSize}-byte limit.`, { code: "request_too_large" });
      },
    })(c, next);
  },
  async (c) => {
    const hook = hookFor(c.req.param("hook"));
    const secret = namedVariable(c.env, hook.verification.secret);
    if (secret === null) {
      throw new ApiError(503, `The hook "${hook.name}" has no signing secret configured (${hook.verification.secret}).`, {
        type: "server_error",
        code: "hook_not_configured",
      });
    }
    const raw = new Uint8Array(await readBodyBytes(c));
    const headers = c.req.raw.headers;
    const verification = hook.verification.scheme === "github" ? await verifyGitHub(headers, raw, secret) : await verifyStandardWebhook(headers, raw, secret);
    if (!verification.ok) throw new ApiError(401, `Webhook signature rejected: ${verification.reason}`, { code: "invalid_signature" });

    const deliveryId = verification.deliveryId;
    if (!isValidDeliveryId(deliveryId)) {
      throw invalidRequest("The delivery id (webhook-id / X-GitHub-Delivery) must be 1-128 letters, digits or _ . : -", null, "invalid_delivery_id");
    }
    const payload = parseJsonWithin(new TextDecoder().decode(raw), c.get("config").limits, "The webhook body");
    const kv = c.env.CONVERSATIONS;
    const claims = createClaims(c.env.LEDGER);
    const claim = claimKey("webhook-delivery", hook.name, await signedIdentity(hook, deliveryId, raw));
    const outcome = await claimDelivery(claims, claim);
    if (outcome.status !== "claimed") {
      const original = outcome.status === "done" ? parseResult<DeliveryRecord>(outcome) : null;
      if (!original) {
        throw new ApiError(409, "Another copy of this delivery is being accepted right now; retry shortly.", {
          code: "delivery_in_progress",
          headers: { "Retry-After": "1" },
        });
      }
      // A replay (the sender retried, or someone resent it, under any delivery id): acknowledged, and
      // nothing runs again.
      c.header("X-Conversation-Id", original.conversation_id);
      return c.json(acknowledgement(original, true), 202);
    }
    try {
      const conversationId = await conversationFor(hook, deliveryId, payload);
      const record: DeliveryRecord = {
        hook: hook.name,
        delivery_id: deliveryId,
        conversation_id: conversationId,
        run_id: await webhookRunId(hook.name, deliveryId),
        received_at: Date.now(),
        state: "queued",
        attempts: 0,
      };
      const job: WebhookJob = { kind: "turn", hook: hook.name, delivery_id: deliveryId, conversation_id: conversationId };
      if (raw.byteLength <= INLINE_PAYLOAD_LIMIT) {
        job.payload = payload;
      } else {
        job.payload_key = await payloadKey(hook.name, deliveryId);
        await kv.put(job.payload_key, JSON.stringify(payload), { expirationTtl: DELIVERY_TTL_SECONDS });
      }
      await writeDelivery(kv, record);
      await jobQueue(c.env).send(job);
      await claims.settle(claim, outcome.token, JSON.stringify(record), DELIVERY_TTL_SECONDS * 1000);
      c.get("log").info("webhook_accepted", { hook: hook.name, delivery_id: deliveryId, conversation_id: conversationId, bytes: raw.byteLength });
      c.header("X-Conversation-Id", conversationId);
      return c.json(acknowledgement(record, false), 202);
    } catch (error) {
      // Not accepted: let the sender's retry claim it afresh.
      await claims.release(claim, outcome.token).catch(() => undefined);
      throw error;
    }
  },
);

/**
 * What makes two deliveries the same event, taken only from what the signature covers. Standard
 * Webhooks signs the message id, so the id is the identity (a sender's retry re-signs the same id
 * with a new timestamp). GitHub signs the body alone: its X-GitHub-Delivery header can be changed
 * by anyone who captured a delivery, so the identity is the signed body itself.
 */
async function signedIdentity(hook: HookConfig, deliveryId: string, raw: Uint8Array): Promise<string> {
  if (hook.verification.scheme === "github") return `body-${await sha256Hex(raw)}`;
  return `id-${await sha256Hex(deliveryId)}`;
}

/** Claims a delivery; a copy that arrives while another is being accepted waits for it briefly. */
async function claimDelivery(claims: LedgerApi, claim: string): Promise<ClaimOutcome> {
  const first = await claims.claim(claim, "", { leaseMs: ACCEPT_LEASE_MS, waitMs: ACCEPT_WAIT_MS });
  // The copy we waited on failed to be accepted: this copy takes its place.
  return first.status === "released" ? claims.claim(claim, "", { leaseMs: ACCEPT_LEASE_MS }) : first;
}

function acknowledgement(record: DeliveryRecord, duplicate: boolean) {
  return {
    object: "webhook.delivery",
    id: record.delivery_id,
    hook: record.hook,
    conversation_id: record.conversation_id,
    ...(record.run_id ? { run_id: record.run_id } : {}),
    status: record.state,
    duplicate,
  };
}

/** Conversation ids are readable and safe: disallowed characters become dashes, a hash keeps them apart. */
async function conversationFor(hook: HookConfig, deliveryId: string, payload: unknown): Promise<string> {
  const raw = hook.conversation === "per-event" ? deliveryId : renderTemplate(hook.conversation.key, payload);
  if (hook.conversation !== "per-event" && raw.replace(/[#/:\s-]/g, "") === "") {
    throw invalidRequest(`The payload lacks the fields of this hook's conversation key (${hook.conversation.key}).`, null, "missing_conversation_key");
  }
  const readable = raw
    .replace(/[^A-Za-z0-9_.-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64);
  return `wh-${hook.name}-${readable}-${await sha256Hex(raw, 4)}`;
}
