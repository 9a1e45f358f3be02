// The last resort for a streamed turn whose client has read the whole answer while its home could
// not take the commit (retried twice): the turn is put in KV and a job on the orchestrator's queue
// commits it once the home can, with the queue's retries and dead-letter queue behind it. The
// commit is idempotent by turn id, so a redelivered job stores the turn once.

import type { ConversationHomes } from "./homes.js";
import type { TurnProducts, TurnRecord } from "./turns.js";

const RESCUE_TTL_SECONDS = 7 * 86_400;

export interface RescueJob {
  kind: "rescue";
  tenant: string;
  conversation_id: string;
  turn_id: string;
  payload_key: string;
}

interface RescuedTurn {
  turn: TurnRecord;
  products: TurnProducts;
}

export async function enqueueRescue(
  kv: KVNamespace,
  queue: Queue<RescueJob>,
  tenant: string,
  conversationId: string,
  turn: TurnRecord,
  products: TurnProducts,
): Promise<void> {
  const key = `rescued-turns/${encodeURIComponent(tenant)}/${conversationId}/${turn.id}`;
  await kv.put(key, JSON.stringify({ turn, products } satisfies RescuedTurn), { expirationTtl: RESCUE_TTL_SECONDS });
  await queue.send({ kind: "rescue", tenant, conversation_id: conversationId, turn_id: turn.id, payload_key: key });
}

/** Commits a rescued turn; throws (and the queue retries) while the home cannot take it yet. */
export async function commitRescued(kv: KVNamespace, homes: ConversationHomes, job: RescueJob): Promise<void> {
  const rescued = await kv.get<RescuedTurn>(job.payload_key, "json");
  // Committed and cleaned up by an earlier delivery of this job.
  if (!rescued) return;
  await homes.rescue(job.tenant, job.conversation_id, rescued.turn, rescued.products);
  await kv.delete(job.payload_key);
}
