// Bearer keys on every route but /healthz. With no keys configured the orchestrator refuses every
// request: it is never open by accident.

import type { Context, Next } from "hono";
import { createMiddleware } from "hono/factory";
import { tenantLimitsOf } from "../../config.js";
import { ApiError } from "../../errors.js";
import type { Authorization, TenantLimits } from "../../keys/key-home.js";
import { MANAGED_KEY, tenantMeter } from "../../keys/keys.js";
import type { Meter } from "../../run-turn.js";
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
  // Static keys (SWITCHBOARD_API_KEYS) are recognised in the isolate; managed ones by their object.
  const meters: Metered[] = [];
  let tenant = await tenantFor(presented, entries);
  if (!tenant) {
    if (!managed || !MANAGED_KEY.test(presented)) throw incorrectKey();
    const key = await authorizeKey(c, presented);
    meters.push(key);
    tenant = key.tenant;
    c.set("keyId", key.keyId);
  }
  admit(c, tenant);
  try {
    const limits = tenantLimitsOf(c.get("config"), tenant);
    if (limits) meters.push(await authorizeTenant(c, { tenant, limits }));
  } catch (error) {
    releaseSlots(c, meters);
    throw error;
  }
  await metered(c, meters, next);
});

/** What a metering object took for this request: its slot, and the headers it answers with. */
interface Metered {
  meter: Meter;
  headers: Record<string, string>;
}

/**
 * A key made through the admin API: one call to its object checks it (revoked keys are refused
 * everywhere from their next request) and takes what the request counts against its limits.
 */
async function authorizeKey(c: Context<AppEnv>, presented: string): Promise<Metered & { tenant: string; keyId: string }> {
  const auth = await c.get("services").keys.authorize(presented, slotRequest(c));
  if (auth.status === "unknown") throw incorrectKey();
  if (auth.status === "revoked") throw new ApiError(401, "This API key was revoked.", { type: "invalid_request_error", code: "invalid_api_key" });
  if (auth.status === "limited") throw limited(auth);
  c.set("keyHash", auth.hash);
  return { meter: { name: auth.hash, ...(auth.slot ? { slot: auth.slot } : {}) }, headers: auth.headers, tenant: auth.tenant, keyId: auth.keyId };
}

/** A tenant with limits in TENANT_LIMITS: every key of it, static or managed, counts against them in the tenant's object. */
async function authorizeTenant(c: Context<AppEnv>, tenant: TenantLimits): Promise<Metered> {
  const auth = await c.get("services").keys.authorizeTenant(tenant, slotRequest(c));
  if (auth.status === "limited") throw limited(auth, `tenant ${tenant.tenant}`);
  if (auth.status !== "ok") throw new ApiError(500, "The tenant's limits could not be checked.", { type: "server_error" });
  return { meter: { name: tenantMeter(tenant.tenant), tenant, ...(auth.slot ? { slot: auth.slot } : {}) }, headers: auth.headers };
}

/**
 * Runs the request under its meters: the answer carries their `x-ratelimit-*` headers (the key's
 * over its tenant's), and a turn's concurrency slots are given back when its answer (a stream
 * included) has been sent or the client went away, unless a run took them over.
 */
async function metered(c: Context<AppEnv>, meters: Metered[], next: Next): Promise<void> {
  if (meters.length === 0) {
    await next();
    return;
  }
  c.set(
    "meters",
    meters.map((entry) => entry.meter),
  );
  const headers = Object.assign({}, ...meters.map((entry) => entry.headers).reverse()) as Record<string, string>;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    releaseSlots(c, meters);
  };
  try {
    await next();
  } catch (error) {
    release();
    throw error;
  }
  const held = meters.some((entry) => entry.meter.slot) && !c.get("slotHandedOff");
  c.res = withHeaders(held ? whenSent(c.res, release) : c.res, headers);
}

function releaseSlots(c: Context<AppEnv>, meters: readonly Metered[]): void {
  const keys = c.get("services").keys;
  for (const { meter } of meters) {
    if (!meter.slot) continue;
    const giving = keys.release(meter.name, meter.slot).catch((error: unknown) => c.get("log").warn("key_slot_not_released", { message: String(error) }));
    try {
      c.executionCtx.waitUntil(giving);
    } catch {
      // No execution context (a unit test's app): the release runs on its own.
    }
  }
}

function slotRequest(c: Context<AppEnv>) {
  return { turn: startsTurn(c), slotMs: c.get("config").limits.turnDeadlineMs + SLOT_MARGIN_MS };
}

function limited(auth: Extract<Authorization, { status: "limited" }>, whose?: string): ApiError {
  const seconds = Math.max(1, Math.ceil(auth.retryAfterMs / 1000));
  return new ApiError(429, whose ? auth.message.replace(/this key/i, whose) : auth.message, {
    type: auth.limit === "requests" ? "requests" : "concurrency",
    code: "rate_limit_exceeded",
    headers: { ...auth.headers, "Retry-After": String(seconds), "retry-after-ms": String(auth.retryAfterMs) },
  });
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
