// Idempotency-Key for POST /v1/chat/completions, kept in KV next to the conversations. The same key
// with the same body replays the stored response without calling the model again; the same key
// with another body is a 422; a duplicate that arrives while the first is still running is a 409.
//
// Best effort, because KV is: a record written in one location can take up to a minute to be seen
// in another, so two duplicates sent at once to different locations may both run.

import { MIN_KV_TTL_SECONDS } from "./conversations/store.js";
import { putRecord } from "./kv-writes.js";
import { sha256, toHex } from "./security/api-keys.js";

export type IdempotencyRecord =
  | { state: "in_progress"; body_hash: string; started_at: number }
  | { state: "done"; body_hash: string; stream: boolean; include_usage: boolean; status: number; response: unknown; conversation_id: string };

export type IdempotencyCheck =
  | { kind: "new"; key: string; bodyHash: string }
  | { kind: "replay"; record: Extract<IdempotencyRecord, { state: "done" }> }
  | { kind: "in_progress" }
  | { kind: "mismatch" };

const SANE_KEY = /^[\x21-\x7e]{1,255}$/;

export function isValidIdempotencyKey(key: string): boolean {
  return SANE_KEY.test(key);
}

export async function checkIdempotency(kv: KVNamespace, tenant: string, key: string, body: string, ttlSeconds: number): Promise<IdempotencyCheck> {
  const storageKey = `idempotency/${encodeURIComponent(tenant)}/${toHex(await sha256(key))}`;
  const bodyHash = toHex(await sha256(body));
  const existing = await kv.get<IdempotencyRecord>(storageKey, "json");
  if (existing) {
    if (existing.body_hash !== bodyHash) return { kind: "mismatch" };
    return existing.state === "done" ? { kind: "replay", record: existing } : { kind: "in_progress" };
  }
  const record: IdempotencyRecord = { state: "in_progress", body_hash: bodyHash, started_at: Date.now() };
  await kv.put(storageKey, JSON.stringify(record), { expirationTtl: Math.max(MIN_KV_TTL_SECONDS, ttlSeconds) });
  return { kind: "new", key: storageKey, bodyHash };
}

/** Records the finished response (the in-progress record was written moments ago: see putRecord). */
export async function completeIdempotency(kv: KVNamespace, storageKey: string, record: IdempotencyRecord, ttlSeconds: number): Promise<void> {
  await putRecord(kv, storageKey, record, ttlSeconds);
}

/** A failed request is not remembered: the client may retry it with the same key. */
export async function abandonIdempotency(kv: KVNamespace, storageKey: string): Promise<void> {
  await kv.delete(storageKey);
}
