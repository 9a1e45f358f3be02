// Stored responses (the Responses door's `store`): the response object as the client received it,
// and the conversation and turn it continues into. One KV key per response, under its tenant, so
// another tenant's id is simply not found. A response expires with conversations.

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

export function createResponseStore(kv: KVNamespace, ttlSeconds: number): ResponseStore {
  const keyOf = (tenant: string, id: string) => `responses/${encodeURIComponent(tenant)}/${id}`;
  return {
    get: (tenant, id) => kv.get<StoredResponse>(keyOf(tenant, id), "json"),
    put: (tenant, record) => kv.put(keyOf(tenant, record.response.id), JSON.stringify(record), { expirationTtl: Math.max(MIN_KV_TTL_SECONDS, ttlSeconds) }),
    async delete(tenant, id) {
      const key = keyOf(tenant, id);
      // A KV delete does not say whether the key existed; the DELETE answers 404 for an unknown id.
      if ((await kv.get(key)) === null) return false;
      await kv.delete(key);
      return true;
    },
  };
}
