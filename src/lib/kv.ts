// KV allows one write per second to a key. Records that change state quickly (an idempotency
// record, a webhook delivery) are written again a second later when KV refuses the first try.

/** KV never accepts a TTL under 60 s. */
export const MIN_KV_TTL_SECONDS = 60;

/** KV refuses a key's metadata over this many bytes of JSON. */
export const MAX_KV_METADATA_BYTES = 1024;

export async function putRecord(kv: KVNamespace, key: string, value: unknown, ttlSeconds: number, metadata?: unknown): Promise<void> {
  const options = { expirationTtl: Math.max(MIN_KV_TTL_SECONDS, ttlSeconds), ...(metadata === undefined ? {} : { metadata }) };
  try {
    await kv.put(key, JSON.stringify(value), options);
  } catch {
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await kv.put(key, JSON.stringify(value), options);
  }
}
