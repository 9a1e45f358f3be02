// /v1/admin/keys: the operator manages client keys as data. Only SWITCHBOARD_ADMIN_KEY opens it;
// any other key (or none) gets the 404 an unknown route gets, so nothing says the API exists.
// A key's secret is in the answer that creates it and nowhere else, ever.

import type { Context } from "hono";
import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import * as z from "zod/mini";
import { ApiError, invalidRequest } from "../errors.js";
import { readBodyText } from "../http/request-body.js";
import type { KeyRecord } from "../keys/key-home.js";
import { limitsProblem, mergeLimits } from "../keys/limits.js";
import { sha256 } from "../lib/hash.js";
import { parseJsonWithin } from "../protocol/json-limits.js";
import { describeIssue } from "../protocol/request-schema.js";
import type { AppEnv } from "../types.js";
import { usageOf } from "./usage.js";

export const adminKeys = new Hono<AppEnv>();

const KEY_ID = /^key_[A-Za-z0-9]{16}$/;
const TENANT = /^[A-Za-z0-9_-]{1,64}$/;
const limitsSchema = z.optional(z.record(z.string(), z.nullable(z.number())));
const createSchema = z.strictObject({
  name: z.string().check(z.minLength(1), z.maxLength(64)),
  tenant: z.string().check(z.regex(TENANT)),
  limits: limitsSchema,
});
const updateSchema = z.strictObject({ limits: z.record(z.string(), z.nullable(z.number())) });

const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  const configured = c.env.SWITCHBOARD_ADMIN_KEY?.trim();
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("Authorization") ?? "")?.[1];
  // Digests of equal length, compared in constant time: the answer's timing says nothing of the key.
  const admitted = configured && presented && crypto.subtle.timingSafeEqual(await sha256(presented), await sha256(configured));
  if (!admitted) throw new ApiError(404, `Unknown route ${c.req.method} ${c.req.path}.`, { code: "unknown_route" });
  await next();
});

adminKeys.use("/admin/*", requireAdmin);

adminKeys.post("/admin/keys", async (c) => {
  const { name, tenant, limits } = await body(c, createSchema);
  const problem = limitsProblem(limits);
  if (problem) throw invalidRequest(problem, "limits", "invalid_value");
  const { record, secret } = await c.get("services").keys.create({ name, tenant, limits: mergeLimits({}, limits ?? {}) });
  return c.json({ ...record, key: secret }, 201);
});

adminKeys.get("/admin/keys", async (c) => {
  const { limit: rawLimit, after } = c.req.query();
  const limit = rawLimit === undefined ? 20 : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw invalidRequest("Invalid value for 'limit': must be an integer from 1 to 100.", "limit");
  if (after !== undefined && !KEY_ID.test(after)) throw invalidRequest("Invalid value for 'after': must be a key id.", "after");
  const page = await c.get("services").keys.list(limit, after ?? null);
  return c.json({ object: "list", data: page.data, first_id: page.data[0]?.id ?? null, last_id: page.data.at(-1)?.id ?? null, has_more: page.has_more });
});

adminKeys.get("/admin/keys/:id", async (c) => c.json(found(c, await c.get("services").keys.get(keyId(c)))));

adminKeys.post("/admin/keys/:id", async (c) => {
  const id = keyId(c);
  const { limits } = await body(c, updateSchema);
  const problem = limitsProblem(limits);
  if (problem) throw invalidRequest(problem, "limits", "invalid_value");
  return c.json(found(c, await c.get("services").keys.update(id, limits)));
});

// Any key's usage, for the operator.
adminKeys.get("/admin/usage", async (c) => {
  const id = c.req.query("key_id") ?? "";
  if (!KEY_ID.test(id)) throw invalidRequest("key_id is required: the id of a key made here.", "key_id");
  const hash = await c.get("services").keys.hashOf(id);
  if (!hash) throw notFound(id);
  return usageOf(c, { id, hash });
});

adminKeys.delete("/admin/keys/:id", async (c) => {
  const record = found(c, await c.get("services").keys.revoke(keyId(c)));
  return c.json({ ...record, revoked: true });
});

async function body<T extends z.ZodMiniType>(c: Context<AppEnv>, schema: T): Promise<z.infer<T>> {
  const parsed = z.safeParse(schema, parseJsonWithin(await readBodyText(c), c.get("config").limits));
  if (!parsed.success) {
    const { message, param } = describeIssue(parsed.error);
    throw invalidRequest(message, param, "invalid_value");
  }
  return parsed.data as z.infer<T>;
}

function keyId(c: Context<AppEnv>): string {
  const id = c.req.param("id") ?? "";
  if (!KEY_ID.test(id)) throw notFound(id.slice(0, 40));
  return id;
}

function found(c: Context<AppEnv>, record: KeyRecord | null): KeyRecord {
  if (!record) throw notFound(c.req.param("id") ?? "");
  return record;
}

function notFound(id: string): ApiError {
  return new ApiError(404, `No key ${id}.`, { type: "invalid_request_error", param: "id", code: "key_not_found" });
}
