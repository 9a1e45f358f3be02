// Every server tool a request may use, from wherever it lives: tool Workers (`TOOL_*` bindings) and
// MCP servers (`MCP_*` bindings, `MCP_SERVERS`). One registry for the chat route, webhooks, GET
// /v1/tools and POST /mcp, so every door sees the same tools in the same order.

import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import type { InvocationBudget } from "./invocation-budget.js";
import { createMcpTools } from "./mcp-tools.js";
import type { ServerTool, ToolRegistry } from "./registry.js";
import { createToolRegistry, DISCOVERY_TIMEOUT_MS } from "./registry.js";

export interface ServerToolsOptions {
  env: object;
  config: Config;
  budget: InvocationBudget;
  log?: Logger;
}

export function createServerToolRegistry({ env, config, budget, log }: ServerToolsOptions): ToolRegistry {
  const workers = createToolRegistry({ env, cacheTtlMs: config.toolSchemaTtlMs, discoveryTimeoutMs: DISCOVERY_TIMEOUT_MS, budget });
  const mcp = createMcpTools({
    env,
    servers: config.mcpServers,
    cacheTtlMs: config.toolSchemaTtlMs,
    discoveryTimeoutMs: DISCOVERY_TIMEOUT_MS,
    budget,
    ...(log ? { log } : {}),
  });
  return {
    async list() {
      const [fromWorkers, fromMcp] = await Promise.all([workers.list(), mcp.list()]);
      const byName = new Map<string, ServerTool>(fromWorkers.map((tool) => [tool.name, tool]));
      for (const tool of fromMcp) {
        // A tool Worker is the operator's own code: on a name clash it keeps the name.
        if (byName.has(tool.name)) {
          const fields = {
            server: tool.mcp?.server,
            tool: tool.mcp?.tool,
            message: `the name ${tool.name} is taken by ${byName.get(tool.name)?.binding || "another server"}`,
          };
          if (log) log.warn("mcp_tool_skipped", fields);
          else console.warn(JSON.stringify({ level: "warn", event: "mcp_tool_skipped", ...fields }));
          continue;
        }
        byName.set(tool.name, tool);
      }
      return [...byName.values()];
    },
    invoke: (tool, args, context, options) => (tool.mcp ? mcp : workers).invoke(tool, args, context, options),
  };
}
