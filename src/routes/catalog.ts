// GET /v1/models and GET /v1/tools: what a client can ask for, as OpenAI clients list it.

import { Hono } from "hono";
import { createTurnDependencies } from "../dependencies.js";
import type { AppEnv } from "../types.js";

export const catalog = new Hono<AppEnv>();

catalog.get("/models", (c) => {
  const created = 0;
  return c.json({
    object: "list",
    data: c.get("config").dmxapi.models.map((id) => ({ id, object: "model", created, owned_by: c.get("config").offline ? "switchboard" : "dmxapi" })),
  });
});

catalog.get("/tools", async (c) => {
  const { registry } = createTurnDependencies(c.env, c.get("config"), (work) => c.executionCtx.waitUntil(work));
  const tools = await registry.list();
  return c.json({
    object: "list",
    data: tools.map((tool) => ({ ...tool.definition, metadata: { version: tool.version, side_effects: tool.sideEffects, binding: tool.binding } })),
  });
});
