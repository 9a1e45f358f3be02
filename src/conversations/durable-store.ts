// Conversations with the KV write off the answer's path. A finished turn is first recorded in the
// ledger (a Durable Object: one strongly consistent, durable write, cheaper than a KV put), and the
// answer goes out; the KV snapshot is written behind it. Readers merge the ledger's recent turns
// with what KV holds, so a client that continues at once, from any location, sees its last turn,
// and a KV write that failed is healed by the next turn's snapshot (which holds every turn its
// writer saw). Once KV holds a turn, the ledger keeps it only long enough for KV to reach every
// location (about a minute), then forgets it.

import type { JournalApi } from "../ledger/claims.js";
import { claimKey } from "../ledger/claims.js";
import type { Conversation, ConversationStore, TurnRecord } from "./store.js";

/** KV takes up to about 60 s to show a write everywhere; the ledger covers that window. */
export const PROPAGATION_WINDOW_MS = 90_000;

export interface DurableStoreOptions {
  kv: ConversationStore;
  journal: JournalApi;
  /** How long a turn KV never received stays in the ledger: the conversation's own TTL. */
  ttlSeconds: number;
}

export function createDurableConversationStore({ kv, journal, ttlSeconds }: DurableStoreOptions): ConversationStore {
  const keyOf = (tenant: string, id: string) => claimKey("conversation", tenant, id);

  async function recentTurns(tenant: string, id: string): Promise<TurnRecord[]> {
    return (await journal.entries(keyOf(tenant, id))).flatMap((value) => {
      try {
        return [JSON.parse(value) as TurnRecord];
      } catch {
        return [];
      }
    });
  }

  return {
    async load(tenant, id) {
      const [stored, recent] = await Promise.all([kv.load(tenant, id), recentTurns(tenant, id)]);
      return merge(stored, recent, tenant, id);
    },

    async append(tenant, id, base, turn) {
      // Built, and checked against the size limit, before anything is written.
      const prepared = kv.prepare(tenant, id, base, turn);
      const key = keyOf(tenant, id);
      await journal.record(key, turn.id, JSON.stringify(turn), ttlSeconds * 1000);
      const behind = prepared.write().then(async ({ cleanup }) => {
        await Promise.all([cleanup, journal.retain(key, turn.id, PROPAGATION_WINDOW_MS)]);
      });
      return { cleanup: behind };
    },

    prepare: (tenant, id, base, turn) => kv.prepare(tenant, id, base, turn),

    async delete(tenant, id) {
      const [stored, recent] = await Promise.all([kv.delete(tenant, id), journal.forget(keyOf(tenant, id))]);
      return stored || recent > 0;
    },
  };
}

/** The stored conversation plus the turns only the ledger holds yet, in start order. */
function merge(stored: Conversation | null, recent: readonly TurnRecord[], tenant: string, id: string): Conversation | null {
  const byId = new Map((stored?.turns ?? []).map((turn) => [turn.id, turn]));
  let changed = false;
  for (const turn of recent) {
    const known = byId.get(turn.id);
    // A turn run again under its own id (a retried Idempotency-Key) replaces its earlier attempt.
    if (known && known.completed_at >= turn.completed_at) continue;
    byId.set(turn.id, turn);
    changed = true;
  }
  if (!changed) return stored;
  const turns = [...byId.values()].sort((left, right) => left.started_at - right.started_at || left.id.localeCompare(right.id));
  const bytes = new TextEncoder().encode(JSON.stringify({ conversation_id: id, turns })).byteLength;
  return { id, tenant, turns, heads: stored?.heads ?? [], bytes };
}
