// How the conversation store's writes reach KV. A write is one new key plus the keys it makes
// redundant; the store hands it to a writer and reads back, beside KV, whatever that writer has
// accepted but KV may not show yet. Production commits through the ledger's journal
// (src/ledger/journal.ts), so the answer waits for a Durable Object write instead of a KV put;
// `directKvWriter` puts straight into KV and waits for it.

/** Metadata the store keeps on each key (JSON, at most 1 KiB in KV). */
export type KvWriteMetadata = Record<string, unknown>;

export interface KvWrite {
  key: string;
  value: string;
  metadata: KvWriteMetadata;
  expirationTtl: number;
  /** Keys this write makes redundant: deleted only after it is in KV, so a reader always finds one or the other. */
  supersedes: string[];
}

/** A write the writer has accepted, as a reader needs it. */
export interface PendingWrite {
  key: string;
  value: string;
  metadata: KvWriteMetadata;
}

/**
 * `group` is the set of keys that are read together (one conversation's prefix): a writer keeps a
 * group's pending writes in one place so that reading them back costs one call.
 */
export interface KvWriter {
  /** Resolves once the write is durable: from then on `pending` (or KV) returns it. */
  commit(group: string, write: KvWrite): Promise<void>;
  /** Accepted writes in `group` that KV may not show yet (not written, or written too recently to be sure). */
  pending(group: string): Promise<PendingWrite[]>;
  /** Resolves once KV has every accepted write under `prefix`, across groups (before listing KV). */
  settle(prefix: string): Promise<void>;
  /**
   * Drops `group`'s writes (only `key`'s when given); resolves once none of them can land any more.
   * Answers their keys, written ones included: a KV list may not show a key put moments ago.
   */
  forget(group: string, key?: string): Promise<string[]>;
}

/** Puts the write into KV, then deletes what it supersedes (a lost delete only lingers until its TTL: readers skip superseded keys). */
export async function applyKvWrite(kv: KVNamespace, write: KvWrite): Promise<void> {
  await kv.put(write.key, write.value, { expirationTtl: write.expirationTtl, metadata: write.metadata });
  await Promise.all(write.supersedes.map((key) => kv.delete(key).catch(() => undefined)));
}

/** Writes straight to KV: the caller waits for the put, and there is never anything pending. */
export function directKvWriter(kv: KVNamespace): KvWriter {
  return {
    commit: (_group, write) => applyKvWrite(kv, write),
    pending: async () => [],
    settle: async () => undefined,
    forget: async () => [],
  };
}

/** A single key's value as readers must see it: the writer's copy while it holds one, else KV's. */
export async function readThrough(kv: KVNamespace, writer: KvWriter, key: string): Promise<string | null> {
  const [pending, stored] = await Promise.all([writer.pending(key), kv.get(key)]);
  return pending.find((write) => write.key === key)?.value ?? stored;
}

/** Drops what the writer holds of one key committed with `commitKey`, and not of the keys it begins. */
export function forgetKey(writer: KvWriter, key: string): Promise<string[]> {
  return writer.forget(key, key);
}

/** Commits one key on its own (its own group), with no metadata and nothing superseded. */
export function commitKey(writer: KvWriter, key: string, value: string, expirationTtl: number): Promise<void> {
  return writer.commit(key, { key, value, metadata: {}, expirationTtl, supersedes: [] });
}
