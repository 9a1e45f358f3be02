// Client API keys. `SWITCHBOARD_API_KEYS` holds comma-separated entries, each `key` or
// `tenant:key`. A named tenant may hold several keys (rotation: add the new key under the same
// name, move clients over, remove the old one); an unnamed key is its own tenant, named by a hash
// of the key so the key itself never appears in storage keys or logs.

import { sha256, toHex } from "../lib/hash.js";

export interface ApiKeyEntry {
  tenant: string;
  digest: ArrayBuffer;
}

const TENANT_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The raw key strings, for redaction. */
export function parseKeyList(raw: string | undefined): Array<{ tenant: string | null; key: string }> {
  return (raw ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const separator = entry.indexOf(":");
      const name = separator > 0 ? entry.slice(0, separator) : "";
      return TENANT_NAME.test(name) ? { tenant: name, key: entry.slice(separator + 1) } : { tenant: null, key: entry };
    });
}

export async function loadApiKeys(raw: string | undefined): Promise<ApiKeyEntry[]> {
  return Promise.all(
    parseKeyList(raw).map(async ({ tenant, key }) => {
      const digest = await sha256(key);
      return { tenant: tenant ?? `key_${toHex(digest, 8)}`, digest };
    }),
  );
}

/**
 * The tenant the presented key belongs to, or null. Digests are compared, not keys, so every
 * comparison has the same length, and timingSafeEqual makes each one constant-time.
 */
export async function tenantForKey(presented: string, entries: readonly ApiKeyEntry[]): Promise<string | null> {
  const digest = await sha256(presented);
  let tenant: string | null = null;
  for (const entry of entries) {
    // Every entry is compared, so the time taken does not say which key matched.
    if (crypto.subtle.timingSafeEqual(digest, entry.digest) && tenant === null) tenant = entry.tenant;
  }
  return tenant;
}
