// Every request gets an id (kept from X-Request-Id when the caller sent a sane one), echoed in the
// response, passed to tools and put on every log line, so one turn can be followed across Workers.
// The access log line is written here too, once the response is known.

import { createMiddleware } from "hono/factory";
import { readConfig } from "../../config.js";
import { randomToken } from "../../lib/ids.js";
import { createLogger } from "../../log.js";
import type { AppEnv } from "../../types.js";

const SANE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
  const started = Date.now();
  const incoming = c.req.header("X-Request-Id");
  const requestId = incoming && SANE_ID.test(incoming) ? incoming : `req_${randomToken(20)}`;
  c.set("requestId", requestId);
  let config: ReturnType<typeof readConfig>;
  try {
    config = readConfig(c.env);
  } catch (error) {
    // app.onError answers and logs it; there are no parsed secrets to redact yet.
    c.set("log", createLogger({ request_id: requestId }, []));
    throw error;
  }
  c.set("config", config);
  c.set("tenant", "anonymous");
  c.set("accessLog", {});
  c.set("log", createLogger({ request_id: requestId }, config.secrets));
  await next();
  c.header("X-Request-Id", requestId);
  c.get("log").info("request", {
    tenant: c.get("tenant"),
    method: c.req.method,
    path: c.req.path,
    status: c.res.status,
    conversation_id: c.res.headers.get("X-Conversation-Id") ?? undefined,
    duration_ms: Date.now() - started,
    ...c.get("accessLog"),
  });
});
