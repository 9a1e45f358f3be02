// MCP servers as server tools: every service binding named `MCP_*` (a Worker that speaks MCP, reached
// through the binding) and every server declared in `MCP_SERVERS` (remote, over HTTPS). Their tools
// are learned with tools/list, cached per isolate like tool Worker schemas, offered to the model as
// `<server>__<tool>`, validated against their inputSchema before the call, and called with
// tools/call. A server that is down, slow or talks nonsense costs one warning, and its tools are left
// out until it answers again; the turn goes on with the others.

import type { ToolCallContext } from "../../kit/protocol.js";
import type { Logger } from "../log.js";
import type { McpClient, McpEndpoint } from "../mcp/client.js";
import { createMcpClient, McpClientError } from "../mcp/client.js";
import type { CallToolResult, McpTool } from "../mcp/protocol.js";
import type { McpServersSetting } from "../mcp/servers-config.js";
import { MCP_SERVER_NAME_PATTERN } from "../mcp/servers-config.js";
import type { JsonObject } from "../protocol/types.js";
import { isJsonObject } from "../protocol/types.js";
import type { InvocationBudget } from "./invocation-budget.js";
import type { InvokeOptions, ServerTool, ToolOutcome, ToolRegistry } from "./registry.js";
import { schemaValidator } from "./registry.js";

export const MCP_BINDING_PREFIX = "MCP_";
/** Joins server and tool names: `github__create_issue`. */
export const MCP_NAME_SEPARATOR = "__";
/** Where an MCP Worker behind a binding is spoken to (the path every MCP handler serves by default). */
export const MCP_BINDING_PATH = "/mcp";
/**
 * How long a server that failed discovery is left out before it is asked again (at most the schema
 * TTL): a dead server then costs one warning and one timeout per window instead of per turn.
 */
export const MCP_RETRY_AFTER_FAILURE_MS = 30_000;
const MAX_FUNCTION_NAME = 64;

export interface McpToolsOptions {
  env: object;
  servers: McpServersSetting;
  cacheTtlMs: number;
  discoveryTimeoutMs: number;
  budget: InvocationBudget;
  log?: Logger;
  now?: () => number;
}

interface CacheEntry {
  tools: ServerTool[] | null;
  fetchedAt: number;
}

// Per isolate, keyed by server name and URL: a redeployed server's tools are seen within the TTL.
const discoveryCache = new Map<string, CacheEntry>();

export function clearMcpToolCache(): void {
  discoveryCache.clear();
}

interface Endpoint extends McpEndpoint {
  binding: string;
  allowlist: string[] | null;
  /** Its tools whose calls wait for a person: all, or these (the server's own names). */
  approval?: "always" | string[];
}

export function createMcpTools(options: McpToolsOptions): ToolRegistry {
  const now = options.now ?? Date.now;
  const warn = (event: string, fields: JsonObject) =>
    options.log ? options.log.warn(event, fields) : console.warn(JSON.stringify({ level: "warn", event, ...fields }));
  const endpoints = mcpEndpoints(options, warn);
  const clients = new Map<string, McpClient>();
  const clientFor = (endpoint: Endpoint) => {
    let client = clients.get(endpoint.name);
    if (!client) {
      client = createMcpClient(endpoint);
      clients.set(endpoint.name, client);
    }
    return client;
  };

  async function discover(endpoint: Endpoint): Promise<ServerTool[]> {
    const key = `${endpoint.name}\n${endpoint.url}\n${endpoint.allowlist?.join(",") ?? "*"}`;
    const cached = discoveryCache.get(key);
    if (cached) {
      const age = now() - cached.fetchedAt;
      if (cached.tools && age < options.cacheTtlMs) return cached.tools;
      if (!cached.tools && age < Math.min(options.cacheTtlMs, MCP_RETRY_AFTER_FAILURE_MS)) return [];
    }
    try {
      const listed = await clientFor(endpoint).listTools(AbortSignal.timeout(options.discoveryTimeoutMs));
      const tools = toServerTools(endpoint, listed, warn);
      discoveryCache.set(key, { tools, fetchedAt: now() });
      return tools;
    } catch (error) {
      const message =
        error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError")
          ? `no answer within ${options.discoveryTimeoutMs} ms`
          : error instanceof Error
            ? error.message
            : String(error);
      warn("mcp_server_unavailable", { server: endpoint.name, message });
      if (!(error instanceof McpClientError && error.kind === "budget")) discoveryCache.set(key, { tools: null, fetchedAt: now() });
      return [];
    }
  }

  return {
    async list() {
      const found = await Promise.all(endpoints.map(discover));
      return found.flat();
    },

    async invoke(tool, args, _context: ToolCallContext, invokeOptions: InvokeOptions): Promise<ToolOutcome> {
      const endpoint = endpoints.find((candidate) => candidate.name === tool.mcp?.server);
      if (!endpoint || !tool.mcp) return { ok: false, type: "unknown_tool", message: `Tool ${tool.name} is no longer configured.` };
      const timeout = AbortSignal.timeout(invokeOptions.timeoutMs);
      const signal = invokeOptions.signal ? AbortSignal.any([invokeOptions.signal, timeout]) : timeout;
      try {
        return toOutcome(await clientFor(endpoint).callTool(tool.mcp.tool, args, signal));
      } catch (error) {
        if (timeout.aborted) {
          return { ok: false, type: "tool_timeout", message: `Tool ${tool.name} did not answer within ${invokeOptions.timeoutMs} ms.` };
        }
        if (error instanceof McpClientError && error.kind === "budget") {
          return { ok: false, type: "invocation_budget_exhausted", message: `Not run: ${error.message} Answer with what you have.` };
        }
        return { ok: false, type: "tool_error", message: `Tool ${tool.name} failed: ${error instanceof Error ? error.message : String(error)}` };
      }
    },
  };
}

/** MCP Workers over `MCP_*` bindings first (by binding name), then the MCP_SERVERS entries in order. */
function mcpEndpoints(options: McpToolsOptions, warn: (event: string, fields: JsonObject) => void): Endpoint[] {
  const env = options.env as Record<string, unknown>;
  const endpoints: Endpoint[] = [];
  const add = (endpoint: Endpoint) => {
    if (endpoints.some((other) => other.name === endpoint.name)) {
      warn("mcp_server_skipped", { server: endpoint.name, message: `another MCP server is already named ${endpoint.name}` });
    } else endpoints.push(endpoint);
  };
  const bindings = Object.keys(env)
    .filter((name) => name.startsWith(MCP_BINDING_PREFIX) && typeof (env[name] as Partial<Fetcher> | null)?.fetch === "function")
    .sort();
  for (const binding of bindings) {
    const fetcher = env[binding] as Fetcher;
    const name = binding.slice(MCP_BINDING_PREFIX.length).toLowerCase();
    if (!MCP_SERVER_NAME_PATTERN.test(name)) {
      warn("mcp_server_skipped", { server: binding, message: "the binding name does not make a valid server name" });
      continue;
    }
    add({
      name,
      url: `https://${name.replaceAll("_", "-")}.mcp.internal${MCP_BINDING_PATH}`,
      fetch: (input, init) => fetcher.fetch(input, init),
      headers: {},
      // Every request through a binding is a Worker invocation, and the platform caps those per request.
      beforeRequest: () => options.budget.tryTake(),
      binding,
      allowlist: null,
    });
  }
  for (const problem of options.servers.problems) warn("mcp_server_skipped", { message: problem });
  for (const server of options.servers.servers) {
    const headers: Record<string, string> = {};
    const missing = Object.entries(server.headers).filter(([header, secret]) => {
      const value = env[secret];
      if (typeof value === "string" && value !== "") headers[header] = value;
      return !(header in headers);
    });
    if (missing.length > 0) {
      // Calling without the credential would only fail, or worse, reach the server anonymously.
      warn("mcp_server_skipped", { server: server.name, message: `secret ${missing.map(([, secret]) => secret).join(", ")} is not set` });
      continue;
    }
    add({
      name: server.name,
      url: server.url,
      fetch: (input, init) => fetch(input, init),
      headers,
      binding: "",
      allowlist: server.tools,
      ...(server.approval ? { approval: server.approval } : {}),
    });
  }
  return endpoints;
}

function toServerTools(endpoint: Endpoint, listed: McpTool[], warn: (event: string, fields: JsonObject) => void): ServerTool[] {
  const tools: ServerTool[] = [];
  for (const tool of listed) {
    if (typeof tool.name !== "string" || tool.name === "") continue;
    if (endpoint.allowlist && !endpoint.allowlist.includes(tool.name)) continue;
    const schema = tool.inputSchema;
    if (!isJsonObject(schema) || schema.type !== "object") {
      warn("mcp_tool_skipped", { server: endpoint.name, tool: tool.name, message: "inputSchema is not an object schema" });
      continue;
    }
    const name = qualifiedToolName(endpoint.name, tool.name);
    if (tools.some((other) => other.name === name)) {
      warn("mcp_tool_skipped", { server: endpoint.name, tool: tool.name, message: `another tool of this server is also named ${name}` });
      continue;
    }
    let validate: ServerTool["validate"];
    try {
      validate = schemaValidator(schema);
    } catch {
      warn("mcp_tool_skipped", { server: endpoint.name, tool: tool.name, message: "inputSchema cannot be compiled" });
      continue;
    }
    const description = typeof tool.description === "string" ? tool.description : typeof tool.title === "string" ? tool.title : "";
    const annotations = isJsonObject(tool.annotations) ? tool.annotations : null;
    const { $schema: _dialect, ...parameters } = schema;
    tools.push({
      name,
      definition: { type: "function", function: { name, description, parameters } },
      version: fnv1a(JSON.stringify(tool)),
      // MCP's default for a tool that does not say it is read-only is that it may change things.
      sideEffects: annotations?.readOnlyHint !== true,
      binding: endpoint.binding,
      validate: (args) => {
        try {
          return validate(args);
        } catch (error) {
          return [`the server's inputSchema could not be applied (${error instanceof Error ? error.message : String(error)})`];
        }
      },
      mcp: { server: endpoint.name, tool: tool.name, url: endpoint.binding ? null : endpoint.url, annotations },
      ...(endpoint.approval === "always" || endpoint.approval?.includes(tool.name) ? { approval: "always" as const } : {}),
    });
  }
  return tools;
}

/**
 * `<server>__<tool>`, made a valid function name: characters outside `A-Z a-z 0-9 _ -` become `_`,
 * and a name over 64 characters keeps its start plus a hash of the whole, so it stays unique.
 */
export function qualifiedToolName(server: string, tool: string): string {
  const name = `${server}${MCP_NAME_SEPARATOR}${tool}`.replace(/[^A-Za-z0-9_-]/g, "_");
  if (name.length <= MAX_FUNCTION_NAME) return name;
  const hash = fnv1a(`${server}${MCP_NAME_SEPARATOR}${tool}`);
  return `${name.slice(0, MAX_FUNCTION_NAME - hash.length - 1)}_${hash}`;
}

/** A tool result as the loop feeds it to the model: structured content when given, else the content blocks. */
export function toOutcome(result: CallToolResult): ToolOutcome {
  const texts = result.content.filter((block) => block.type === "text" && typeof block.text === "string").map((block) => block.text as string);
  if (result.isError === true) {
    return { ok: false, type: "tool_error", message: texts.join("\n") || "The tool reported an error without a message." };
  }
  if (isJsonObject(result.structuredContent)) return { ok: true, result: result.structuredContent };
  if (texts.length === result.content.length) return { ok: true, result: texts.join("\n") };
  // Images and audio are base64: the model cannot read them as tool text, and they would crowd out the rest.
  return {
    ok: true,
    result: result.content.map((block) => (typeof block.data === "string" ? { ...block, data: `[${block.data.length} base64 characters left out]` } : block)),
  };
}

function fnv1a(text: string): string {
  let hash = 2166136261;
  for (let index = 0; index < text.length; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 16777619) >>> 0;
  return hash.toString(16).padStart(8, "0");
}
