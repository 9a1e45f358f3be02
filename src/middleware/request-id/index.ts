// Every request gets an id (kept from X-Request-Id when the caller sent a sane one), echoed in the
// response and passed to tools, so one turn can be followed across Workers and logs.

import { createMiddleware } from "hono/factory";
import { readConfig } from "../../config.js";
import { randomToken } from "../../protocol/normalize.js";
import type { AppEnv } from "../../types.js";

const SANE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
  const incoming = c.req.header("X-Request-Id");
  const requestId = incoming && SANE_ID.test(incoming) ? incoming : `req_${randomToken(20)}`;
  c.set("requestId", requestId);
  c.set("config", readConfig(c.env));
  c.set("tenant", "default");
  await next();
  c.header("X-Request-Id", requestId);
});
