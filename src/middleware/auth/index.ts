// Bearer keys on every route but /healthz. With no keys configured the orchestrator refuses every
// request: it is never open by accident.

import type { Context, Next } from "hono";
import { createMiddleware } from "hono/factory";
import { ApiError } from "../../errors.js";
import { MANAGED_KEY } from "../../keys/keys.js";
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
  const managed = Boolean(c.env.SWITCHBOARD_ADMIN_KEY?.trim());
  if (entries.length === 0 && !managed) {
    throw new ApiError(
      503,
      "This orchestrator has no API keys configured (SWITCHBOARD_API_KEYS, or SWITCHBOARD_ADMIN_KEY to make them), so it accepts no requests.",
      {
        type: "server_error",
        code: "auth_not_configured",
      },
    );
  }
  const header = c.req.header("Authorization") ?? "";
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) {
    throw new ApiError(401, "Missing API key: send Authorization: Bearer <key>.", { type: "invalid_request_error", code: "missing_api_key" });
  }
  const presented = match[1];
  // Static keys (SWITCHBOARD_API_KEYS) are recognised in the isolate and have no limits.
  const tenant = await tenantFor(presented, entries);
  if (tenant) {
    admit(c, tenant);
    await next();
    return;
  }
  if (!managed || !MANAGED_KEY.test(presented)) throw incorrectKey();
  await withManagedKey(c, presented, next);
});

/**
 * A key made through the admin API: one call to its object checks it (revoked keys are refused
 * everywhere from their next request) and takes what the request counts against its limits. The
 * answer carries the key's `x-ratelimit-*` headers; a turn's concurrency slot is given back when its
 * answer (a stream included) has been sent, or when the client goes away.
 */
async function withManagedKey(c: Context<AppEnv>, presented: string, next: Next): Promise<void> {
  const keys = c.get("services").keys;
  const turn = startsTurn(c);
  const auth = await keys.authorize(presented, { turn, slotMs: c.get("config").limits.turnDeadlineMs + SLOT_MARGIN_MS });
  if (auth.status === "unknown") throw incorrectKey();
  if (auth.status === "revoked") throw new ApiError(401, "This API key was revoked.", { type: "invalid_request_error", code: "invalid_api_key" });
  if (auth.status === "limited") {
    const seconds = Math.max(1, Math.ceil(auth.retryAfterMs / 1000));
    throw new ApiError(429, auth.message, {
      type: auth.limit === "requests" ? "requests" : "concurrency",
      code: "rate_limit_exceeded",
      headers: { ...auth.headers, "Retry-After": String(seconds), "retry-after-ms": String(auth.retryAfterMs) },
    });
  }
  admit(c, auth.tenant);
  c.set("keyId", auth.keyId);
  c.set("keyHash", auth.hash);
  const slot = auth.slot;
  if (slot) c.set("slot", slot);
  let released = false;
  const release = () => {
    if (released || !slot) return;
    released = true;
    const giving = keys.release(auth.hash, slot).catch((error: unknown) => c.get("log").warn("key_slot_not_released", { message: String(error) }));
    try {
      c.executionCtx.waitUntil(giving);
    } catch {
      // No execution context (a unit test's app): the release runs on its own.
    }
  };
  try {
    await next();
  } catch (error) {
    release();
    throw error;
  }
  // A turn that runs in its conversation's home took the slot over: it gives it back when it ends.
  const held = slot && !c.get("slotHandedOff");
  c.res = withHeaders(held ? whenSent(c.res, release) : c.res, auth.headers);
}

/** A turn-starting request takes a concurrency slot: a chat completion or a response. */
function startsTurn(c: Context<AppEnv>): boolean {
  return c.req.method === "POST" && (c.req.path === "/v1/chat/completions" || c.req.path === "/v1/responses");
}

/** A slot a Worker that died never gave back is free again this long after the turn's deadline. */
const SLOT_MARGIN_MS = 30_000;

function admit(c: Context<AppEnv>, tenant: string): void {
  c.set("tenant", tenant);
  c.set("log", c.get("log").with({ tenant }));
}

function incorrectKey(): ApiError {
  return new ApiError(401, "Incorrect API key provided.", { type: "invalid_request_error", code: "invalid_api_key" });
}

function withHeaders(response: Response, headers: Record<string, string>): Response {
  if (Object.keys(headers).length === 0) return response;
  const answer = new Response(response.body, response);
  for (const [name, value] of Object.entries(headers)) answer.headers.set(name, value);
  return answer;
}

/** The same response, `done` called once its body has been read to the end or cancelled. */
function whenSent(response: Response, done: () => void): Response {
  if (!response.body) {
    done();
    return response;
  }
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: ended, value } = await reader.read();
        if (ended) {
          done();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        done();
        controller.error(error);
      }
    },
    cancel(reason) {
      done();
      return reader.cancel(reason);
    },
  });
  return new Response(body, response);
}
