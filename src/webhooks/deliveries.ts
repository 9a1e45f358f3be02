// Webhook deliveries in KV: one record per (hook, delivery id), written when the event is accepted
// and updated as its turn runs. The record is how a replayed delivery is recognised, and how a
// redelivered queue message (queues deliver at least once) is recognised as already done.

import { byteLength } from "../lib/bytes.js";
import { sha256Hex } from "../lib/hash.js";
import { putRecord } from "../lib/kv.js";

export const DELIVERY_TTL_SECONDS = 7 * 86_400;

export type DeliveryState = "queued" | "retrying" | "awaiting_approval" | "done" | "dead";

export interface DeliveryRecord {
  hook: string;
  delivery_id: string;
  conversation_id: string;
  /** The run that is the event's turn, in its conversation's home (absent in records from before runs). */
  run_id?: string;
  received_at: number;
  state: DeliveryState;
  attempts: number;
  last_error?: string;
  answer?: string | null;
  completed_at?: number;
  /** While the turn waits for a person: the approvals it waits for. */
  approvals?: string[];
  callback?: { state: "pending" | "delivered" | "dead"; attempts: number; last_error?: string };
}

/** The queue message: small, with the payload inline when it fits under the queue's 128 KB. */
export type WebhookJob =
  | {
      kind: "turn";
      hook: string;
      delivery_id: string;
      conversation_id: string;
      payload?: unknown;
      payload_key?: string;
    }
  | { kind: "callback"; hook: string; delivery_id: string; conversation_id: string }
  /** A turn that waited for approval answered (its continuation run ended): record the answer, then call back. */
  | { kind: "continued"; hook: string; delivery_id: string; conversation_id: string; run_id: string; answer: string | null };

/** The run (and turn) of a delivery: the same for every attempt, so a redelivered job continues or finds the same run. */
export function webhookRunId(hook: string, deliveryId: string): Promise<string> {
  return sha256Hex(`${hook}:${deliveryId}`, 12).then((hash) => `turn_wh_${hash}`);
}

/** The queue webhook jobs travel on; what goes on it is a WebhookJob, and nothing else. */
export function jobQueue(env: { WEBHOOK_QUEUE: Queue }): Queue<WebhookJob> {
  return env.WEBHOOK_QUEUE as Queue<WebhookJob>;
}

export const INLINE_PAYLOAD_LIMIT = 100_000;

/**
 * Delivery ids are stored, logged and carried in KV metadata (1024 bytes at most): bounded like every
 * other id. Standard Webhooks ids (`msg_...`) and GitHub's UUIDs fit.
 */
const DELIVERY_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

export function isValidDeliveryId(id: string): boolean {
  return DELIVERY_ID.test(id);
}

export async function deliveryKey(hook: string, deliveryId: string): Promise<string> {
  return `webhook-deliveries/${hook}/${await sha256Hex(deliveryId, 16)}`;
}

export async function payloadKey(hook: string, deliveryId: string): Promise<string> {
  return `webhook-payloads/${hook}/${await sha256Hex(deliveryId, 16)}`;
}

export async function deadLetterKey(hook: string, deliveryId: string, kind: WebhookJob["kind"]): Promise<string> {
  return `webhook-dead-letters/${hook}/${await sha256Hex(`${kind}:${deliveryId}`, 16)}`;
}

/** KV refuses metadata over 1024 bytes; a dead letter's error is shortened until the record fits. */
const METADATA_BYTE_BUDGET = 1000;

export function withinMetadataLimit<Letter extends { last_error: string | null }>(letter: Letter): Letter {
  const bytes = (value: unknown) => byteLength(JSON.stringify(value));
  let lastError = letter.last_error === null ? null : [...letter.last_error].slice(0, 300).join("");
  while (lastError && bytes({ ...letter, last_error: lastError }) > METADATA_BYTE_BUDGET) lastError = [...lastError].slice(0, -20).join("");
  return { ...letter, last_error: lastError || null };
}

export async function readDelivery(kv: KVNamespace, hook: string, deliveryId: string): Promise<DeliveryRecord | null> {
  return kv.get<DeliveryRecord>(await deliveryKey(hook, deliveryId), "json");
}

export async function writeDelivery(kv: KVNamespace, record: DeliveryRecord): Promise<void> {
  await putRecord(kv, await deliveryKey(record.hook, record.delivery_id), record, DELIVERY_TTL_SECONDS);
}
