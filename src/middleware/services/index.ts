// Builds the request's services (model, conversation homes, ledger, registry, budget) once, from the
// composition root, after the key has named the tenant; every route takes them from the context.

import { createMiddleware } from "hono/factory";
import { createServices } from "../../services.js";
import type { AppEnv } from "../../types.js";

export const provideServices = createMiddleware<AppEnv>(async function provideServices(c, next) {
  const log = c.get("log");
  c.set("services", createServices(c.env, c.get("config"), { log, waitUntil: (work) => c.executionCtx.waitUntil(work) }));
  await next();
});
