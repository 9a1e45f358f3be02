// Bearer keys on every route but /healthz. With no keys configured the orchestrator refuses every
// request: it is never open by accident.

import { createMiddleware } from "hono/factory";
import { ApiError } from "../../errors.js";
import type { ApiKeyEntry } from "../../security/api-keys.js";
import { loadApiKeys, tenantForKey } from "../../security/api-keys.js";
import type { AppEnv } from "../../types.js";

// Hashing the configured keys once per isolate; a changed secret means a new isolate anyway.
let cached: { raw: string; entries: Promise<ApiKeyEntry[]> } | undefined;

function entriesFor(raw: string): Promise<ApiKeyEntry[]> {
  if (cached?.raw !== raw) {
    cached = { raw, entries: loadApiKeys(raw) };
    recognised.clear();
  }
  return cached.entries;
}

/**
 * Keys already recognised in this isolate, and their tenant: a client sends the same key on every
 * request, so its digest and comparisons are done once. Only valid keys are kept, at most a few
 * hundred (the oldest go first).
 */
const recognised = new Map<string, string>();
const MAX_RECOGNISED_KEYS = 256;

async function tenantFor(presented: string, entries: readonly ApiKeyEntry[]): Promise<string | null> {
  const known = recognised.get(presented);
  if (known) return known;
  const tenant = await tenantForKey(presented, entries);
  if (tenant) {
    if (recognised.size >= MAX_RECOGNISED_KEYS) recognised.delete(recognised.keys().next().value as string);
    recognised.set(presented, tenant);
  }
  return tenant;
}

export const requireApiKey = createMiddleware<AppEnv>(async (c, next) => {
  const entries = await entriesFor(c.env.SWITCHBOARD_API_KEYS ?? "");
  if (entries.length === 0) {
    throw new ApiError(503, "This orchestrator has no API keys configured (SWITCHBOARD_API_KEYS), so it accepts no requests.", {
      type: "server_error",
      code: "auth_not_configured",
    });
  }
  const header = c.req.header("Authorization") ?? "";
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) {
    throw new ApiError(401, "Missing API key: send Authorization: Bearer <key>.", { type: "invalid_request_error", code: "missing_api_key" });
  }
  const tenant = await tenantFor(match[1], entries);
  if (!tenant) {
    throw new ApiError(401, "Incorrect API key provided.", { type: "invalid_request_error", code: "invalid_api_key" });
  }
  c.set("tenant", tenant);
  c.set("log", c.get("log").with({ tenant }));
  await next();
});
