// The conversation store's writer in production: a finished turn is committed to a ledger object
// near the Worker (its storage is durable once the call returns), the client gets its answer, and
// the object writes KV behind it. A reader in the same location asks the same object what it holds
// that KV may not show yet, so a client continuing at once sees its turn.
//
// Objects are named by location and shard: `journal:<colo>:<n>`. A Durable Object lives where it was
// first called, so a location's journal stays next to it and commits do not cross the world; a few
// shards per location keep one object from taking every turn. A conversation always maps to the
// same shard, so its pending writes are in one place.

import type { KvWrite, KvWriter, PendingWrite } from "../conversations/kv-writes.js";
import type { Ledger } from "./ledger.js";

/** Journal objects per location. Each takes a location's share of commits and of continuing turns' reads. */
export const JOURNAL_SHARDS = 4;

/** Object ids by name, per isolate: deriving one hashes the name, and the same few names serve every request. */
const ids = new WeakMap<DurableObjectNamespace<Ledger>, Map<string, DurableObjectId>>();

function idOf(namespace: DurableObjectNamespace<Ledger>, name: string): DurableObjectId {
  const known = ids.get(namespace) ?? new Map<string, DurableObjectId>();
  ids.set(namespace, known);
  const id = known.get(name) ?? namespace.idFromName(name);
  known.set(name, id);
  return id;
}

export function createJournal(namespace: DurableObjectNamespace<Ledger>, place: string, shards = JOURNAL_SHARDS): KvWriter {
  const object = (shard: number) => namespace.get(idOf(namespace, `journal:${place}:${shard}`));
  const objectFor = (group: string) => object(shardOf(group, shards));
  return {
    commit: (group: string, write: KvWrite) => objectFor(group).commitWrite(write),
    pending: (group: string): Promise<PendingWrite[]> => objectFor(group).pendingWrites(group),
    settle: async (prefix: string) => {
      await Promise.all(Array.from({ length: shards }, (_, shard) => object(shard).flushWrites(prefix)));
    },
    forget: (group: string, key?: string) => objectFor(group).forgetWrites(group, key),
  };
}

/** FNV-1a: cheap, stable across isolates and deploys, spread well enough for a handful of shards. */
export function shardOf(group: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < group.length; index++) {
    hash ^= group.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}

/** Where this Worker runs (the Cloudflare colo of the request), or a fixed name where there is none (queues, local runs). */
export function placeOf(request: Request | undefined, fallback = "any"): string {
  const colo = (request?.cf as { colo?: unknown } | undefined)?.colo;
  return typeof colo === "string" && /^[A-Za-z0-9]{1,8}$/.test(colo) ? colo.toUpperCase() : fallback;
}
