// GET /v1/models and GET /v1/tools: what a client can ask for, as OpenAI clients list it.

import { Hono } from "hono";
import { InvocationBudget } from "../tools/invocation-budget.js";
import { createToolRegistry, DISCOVERY_TIMEOUT_MS } from "../tools/registry.js";
import type { AppEnv } from "../types.js";

export const catalog = new Hono<AppEnv>();

catalog.get("/models", (c) => {
  const { dmxapi } = c.get("config");
  return c.json({ object: "list", data: dmxapi.models.map((id) => ({ id, object: "model", created: 0, owned_by: "dmxapi" })) });
});

catalog.get("/tools", async (c) => {
  const config = c.get("config");
  const registry = createToolRegistry({
    env: c.env,
    cacheTtlMs: config.toolSchemaTtlMs,
    discoveryTimeoutMs: DISCOVERY_TIMEOUT_MS,
    budget: new InvocationBudget(config.limits.maxToolInvocations),
  });
  const tools = await registry.list();
  return c.json({
    object: "list",
    data: tools.map((tool) => ({ ...tool.definition, metadata: { version: tool.version, side_effects: tool.sideEffects, binding: tool.binding } })),
  });
});
