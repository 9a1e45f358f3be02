// The conversation's copy in Workers KV, written behind the answer by its home's alarm: one key per
// conversation, rewritten whole (at most once a WRITE_BEHIND_MS, KV's one write a second per key),
// with the listing's summary in its metadata. It is the cold copy, and what a home whose storage is
// gone takes back. Conversations stored before homes (a grow-only set of snapshot keys under
// `conversations/<tenant>/<id>/`) are read once, by the home that first needs them.

import { byteLength } from "../lib/bytes.js";
import { MAX_KV_METADATA_BYTES, MIN_KV_TTL_SECONDS } from "../lib/kv.js";
import { isJsonObject } from "../protocol/types.js";
import type { ConversationSummary, StoredResponse, TurnRecord } from "./turns.js";

export interface ConversationCopy {
  tenant: string;
  conversationId: string;
  turns: TurnRecord[];
  responses: StoredResponse[];
  summary: ConversationSummary;
  ttlSeconds: number;
}

interface CopyValue {
  conversation_id: string;
  turns: TurnRecord[];
  responses?: StoredResponse[];
}

const copyKey = (tenant: string, id: string) => `conversation/${encodeURIComponent(tenant)}/${id}`;
const legacyPrefix = (tenant: string, id: string) => `conversations/${encodeURIComponent(tenant)}/${id}/`;

export async function writeCopy(kv: KVNamespace, copy: ConversationCopy): Promise<void> {
  const value: CopyValue = { conversation_id: copy.conversationId, turns: copy.turns, responses: copy.responses };
  const metadata = { ...copy.summary, ttl_seconds: copy.ttlSeconds };
  if (byteLength(JSON.stringify(metadata)) > MAX_KV_METADATA_BYTES) metadata.title = null;
  await kv.put(copyKey(copy.tenant, copy.conversationId), JSON.stringify(value), {
    expirationTtl: Math.max(MIN_KV_TTL_SECONDS, copy.ttlSeconds),
    metadata,
  });
}

export async function removeCopy(kv: KVNamespace, tenant: string, id: string): Promise<void> {
  const legacy = await kv.list({ prefix: legacyPrefix(tenant, id) });
  await Promise.all([kv.delete(copyKey(tenant, id)), ...legacy.keys.map((key) => kv.delete(key.name))]);
}

export async function readCopy(
  kv: KVNamespace,
  tenant: string,
  id: string,
): Promise<{ turns: TurnRecord[]; responses: StoredResponse[]; ttlSeconds: number } | null> {
  const stored = await kv.getWithMetadata<CopyValue, { ttl_seconds?: number }>(copyKey(tenant, id), "json");
  if (stored.value && Array.isArray(stored.value.turns)) {
    return { turns: stored.value.turns, responses: stored.value.responses ?? [], ttlSeconds: stored.metadata?.ttl_seconds ?? 86_400 };
  }
  const turns = await readLegacy(kv, legacyPrefix(tenant, id));
  return turns.length > 0 ? { turns, responses: [], ttlSeconds: 86_400 } : null;
}

/** The union of a pre-home conversation's newest snapshots (those no other snapshot names as a parent). */
async function readLegacy(kv: KVNamespace, prefix: string): Promise<TurnRecord[]> {
  const listed = await kv.list<{ parents?: string[] }>({ prefix });
  if (listed.keys.length === 0) return [];
  const superseded = new Set(listed.keys.flatMap((key) => key.metadata?.parents ?? []));
  const heads = listed.keys.filter((key) => !superseded.has(key.name.slice(prefix.length)));
  const snapshots = await Promise.all(heads.map((key) => kv.get<{ turns?: unknown }>(key.name, "json")));
  const turns = new Map<string, TurnRecord>();
  for (const snapshot of snapshots) {
    if (!snapshot || !Array.isArray(snapshot.turns)) continue;
    for (const turn of snapshot.turns)
      if (isJsonObject(turn) && typeof turn.id === "string" && !turns.has(turn.id)) turns.set(turn.id, turn as unknown as TurnRecord);
  }
  return [...turns.values()].sort((left, right) => left.started_at - right.started_at || left.id.localeCompare(right.id));
}
