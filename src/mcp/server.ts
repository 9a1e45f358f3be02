// Switchboard as an MCP server: the answers to initialize, ping, tools/list and tools/call, for the
// tools a request may use. tools/call runs a tool the way the tool loop does (the same registry,
// argument validation, per-call timeout, output limit and invocation budget); a tool that fails is
// an `isError` result the client's model can read, not a protocol error.

import type { ToolCallContext } from "../../kit/protocol.js";
import { truncate } from "../protocol/normalize.js";
import type { JsonObject } from "../protocol/types.js";
import { isJsonObject } from "../protocol/types.js";
import type { ServerTool, ToolOutcome, ToolRegistry } from "../tools/registry.js";
import type { CallToolResult, JsonRpcRequest, JsonRpcResponse, McpTool } from "./protocol.js";
import { JSONRPC_ERRORS, LATEST_PROTOCOL_VERSION, rpcError, rpcResult, SUPPORTED_PROTOCOL_VERSIONS } from "./protocol.js";

export const SERVER_INFO = { name: "switchboard", version: "0.1.0" };

export interface McpServerOptions {
  /** The tools this request may use, discovered on first need (initialize and ping need none). */
  tools: () => Promise<ServerTool[]>;
  registry: ToolRegistry;
  limits: { toolTimeoutMs: number; maxToolOutputChars: number };
  /**
   * The context a tool Worker receives for the call answering JSON-RPC request `id`, made once per
   * call. Its idempotency key must be minted by the server, never built from `id` or anything else
   * the client chose: two clients may well send the same ids.
   */
  context: (id: JsonRpcRequest["id"]) => ToolCallContext;
  signal?: AbortSignal;
  onToolResult?: (event: { tool: string; outcome: ToolOutcome; durationMs: number }) => void;
  /**
   * Whether a person must allow this call first: null to run it, else what the client is told
   * instead (the pending approval to decide, or the denial).
   */
  gate?: (tool: ServerTool, args: JsonObject) => Promise<ToolOutcome | null>;
}

export async function answerMcpRequest(request: JsonRpcRequest, options: McpServerOptions): Promise<JsonRpcResponse> {
  const params = request.params ?? {};
  switch (request.method) {
    case "initialize": {
      const asked = params.protocolVersion;
      const protocolVersion = typeof asked === "string" && (SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(asked) ? asked : LATEST_PROTOCOL_VERSION;
      return rpcResult(request.id, {
        protocolVersion,
        capabilities: { tools: { listChanged: false } },
        serverInfo: SERVER_INFO,
        instructions: "Switchboard's server tools: each runs in its own Worker or on an MCP server the operator connected.",
      });
    }
    case "ping":
      return rpcResult(request.id, {});
    case "tools/list": {
      const tools = await options.tools();
      return rpcResult(request.id, { tools: [...tools].sort((left, right) => compare(left.name, right.name)).map(toMcpTool) });
    }
    case "tools/call":
      return callTool(request, params, options);
    default:
      return rpcError(request.id, JSONRPC_ERRORS.methodNotFound, `Method not found: ${request.method}`);
  }
}

async function callTool(request: JsonRpcRequest, params: JsonObject, options: McpServerOptions): Promise<JsonRpcResponse> {
  const name = params.name;
  if (typeof name !== "string") return rpcError(request.id, JSONRPC_ERRORS.invalidParams, "tools/call needs params.name.");
  const args = params.arguments ?? {};
  if (!isJsonObject(args)) return rpcError(request.id, JSONRPC_ERRORS.invalidParams, "tools/call params.arguments must be an object.");
  // A tool outside this request's allowlist does not exist for it, exactly as in tools/list.
  const tool = (await options.tools()).find((candidate) => candidate.name === name);
  if (!tool) return rpcError(request.id, JSONRPC_ERRORS.invalidParams, `Unknown tool: ${name}`);
  const started = Date.now();
  const outcome = await runTool(tool, args, request, options);
  options.onToolResult?.({ tool: name, outcome, durationMs: Date.now() - started });
  return rpcResult(request.id, toCallToolResult(outcome, options.limits.maxToolOutputChars));
}

async function runTool(tool: ServerTool, args: JsonObject, request: JsonRpcRequest, options: McpServerOptions): Promise<ToolOutcome> {
  // Invalid arguments are a result the caller's model can correct, as in the tool loop.
  const problems = tool.validate(args);
  if (problems.length > 0) {
    return { ok: false, type: "invalid_arguments", message: `Invalid arguments for ${tool.name}: ${problems.join("; ")}. Fix them and call again.` };
  }
  const held = await options.gate?.(tool, args);
  if (held) return held;
  const invokeOptions = options.signal ? { timeoutMs: options.limits.toolTimeoutMs, signal: options.signal } : { timeoutMs: options.limits.toolTimeoutMs };
  return options.registry.invoke(tool, args, options.context(request.id), invokeOptions);
}

/** The JSON text doubles as the text content; a result over the output limit is cut and loses its structured form. */
export function toCallToolResult(outcome: ToolOutcome, maxChars: number): CallToolResult {
  const structured: JsonObject = outcome.ok
    ? isJsonObject(outcome.result)
      ? outcome.result
      : { result: outcome.result ?? null }
    : { error: { type: outcome.type, message: outcome.message } };
  const text =
    outcome.ok && typeof outcome.result === "string" && outcome.result !== ""
      ? outcome.result
      : JSON.stringify(outcome.ok ? (outcome.result ?? null) : structured);
  const isError = !outcome.ok;
  if (text.length > maxChars) {
    const cut = `${truncate(text, maxChars)}\n[Tool output cut at ${maxChars} of ${text.length} characters.]`;
    return { content: [{ type: "text", text: cut }], isError };
  }
  return { content: [{ type: "text", text }], structuredContent: structured, isError };
}

function toMcpTool(tool: ServerTool): McpTool {
  const parameters = tool.definition.function.parameters ?? { type: "object", properties: {} };
  // A tool re-served from another MCP server keeps what its server said; a tool Worker's only hint is its side effects.
  const annotations = tool.mcp?.annotations ?? { readOnlyHint: !tool.sideEffects };
  return {
    name: tool.name,
    description: tool.definition.function.description ?? "",
    inputSchema: parameters.type === "object" ? parameters : { type: "object", ...parameters },
    annotations,
    _meta: { "switchboard/version": tool.version },
  };
}

/** Code-point order, the same in every runtime and locale. */
function compare(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}
