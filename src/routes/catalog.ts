// GET /v1/models and GET /v1/tools: what a client can ask for, as OpenAI clients list it; GET
// /v1/usage: what its key has used.

import { Hono } from "hono";
import { byteLength } from "../lib/bytes.js";
import { toolsForRequest } from "../run-turn.js";
import type { ServerTool } from "../tools/registry.js";
import type { AppEnv } from "../types.js";
import { ownKey, usageOf } from "./usage.js";

export const catalog = new Hono<AppEnv>();

catalog.get("/models", (c) => {
  const { dmxapi } = c.get("config");
  return c.json({ object: "list", data: dmxapi.models.map((id) => ({ id, object: "model", created: 0, owned_by: "dmxapi" })) });
});

// The calling key's usage (a managed key's: static keys keep none).
catalog.get("/usage", (c) => usageOf(c, ownKey(c)));

catalog.get("/tools", async (c) => {
  const tools = toolsForRequest(await c.get("services").registry.list(), c.get("config"), c.get("tenant"));
  return c.json({
    object: "list",
    data: tools.map((tool) => ({ ...tool.definition, metadata: { version: tool.version, side_effects: tool.sideEffects, ...origin(tool), ...cost(tool) } })),
  });
});

/**
 * What offering the tool costs on every model call of a turn: its definition's bytes, and a rough
 * token estimate (about 4 bytes a token for JSON). `server_tools` (per request) and
 * TENANT_SERVER_TOOLS (per key) send fewer.
 */
function cost(tool: ServerTool) {
  const bytes = byteLength(JSON.stringify(tool.definition));
  return { definition_bytes: bytes, estimated_tokens: Math.ceil(bytes / 4) };
}

/** Where a tool comes from: a tool Worker's binding, or an MCP server (by binding or URL) and its own name for the tool. */
function origin(tool: ServerTool) {
  if (!tool.mcp) return { binding: tool.binding, origin: "worker" as const };
  const { server, tool: name, url } = tool.mcp;
  return { origin: "mcp" as const, mcp_server: server, mcp_tool: name, ...(tool.binding ? { binding: tool.binding } : { url }) };
}
