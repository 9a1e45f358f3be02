// Stored responses (the Responses door's `store`): the response object as the client received it,
// and the conversation and turn it continues into. One KV key per response, under its tenant, so
// another tenant's id is simply not found. A response expires with conversations.

import type { KvWriter } from "../conversations/kv-writes.js";
import { commitKey, forgetKey, readThrough } from "../conversations/kv-writes.js";
import { MIN_KV_TTL_SECONDS } from "../lib/kv.js";
import type { ResponseObject } from "../protocol/responses/types.js";

export interface StoredResponse {
  conversation_id: string;
  turn_id: string;
  response: ResponseObject;
}

export interface ResponseStore {
  get(tenant: string, id: string): Promise<StoredResponse | null>;
  put(tenant: string, record: StoredResponse): Promise<void>;
  delete(tenant: string, id: string): Promise<boolean>;
}

/** Responses are committed through `writer` (the journal in production), like the turns they answer. */
export function createResponseStore(kv: KVNamespace, writer: KvWriter, ttlSeconds: number): ResponseStore {
  const keyOf = (tenant: string, id: string) => `responses/${encodeURIComponent(tenant)}/${id}`;
  return {
    async get(tenant, id) {
      const stored = await readThrough(kv, writer, keyOf(tenant, id));
      return stored === null ? null : (JSON.parse(stored) as StoredResponse);
    },
    put: (tenant, record) => commitKey(writer, keyOf(tenant, record.response.id), JSON.stringify(record), Math.max(MIN_KV_TTL_SECONDS, ttlSeconds)),
    async delete(tenant, id) {
      const key = keyOf(tenant, id);
      // What the writer still holds must not land after the delete; a KV delete does not say whether
      // the key existed, and the DELETE answers 404 for an unknown id.
      const held = await forgetKey(writer, key);
      if (held.length === 0 && (await kv.get(key)) === null) return false;
      await kv.delete(key);
      return true;
    },
  };
}
