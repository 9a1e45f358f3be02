// The slice of the Model Context Protocol Switchboard speaks, both as a server (POST /mcp) and as a
// client of MCP servers: JSON-RPC 2.0 framing and the `initialize`, `tools/list` and `tools/call`
// shapes, camelCase as MCP has them on the wire. Hand-written rather than taken from
// @modelcontextprotocol/sdk: the SDK's server and client add 83-100 KiB gzip to the orchestrator
// (its zod schemas and ajv), more than the orchestrator's whole budget; this layer is ~5 KiB. The
// tests drive it with the SDK's own client and server.

import type { JsonObject } from "../protocol/types.js";
import { isJsonObject } from "../protocol/types.js";

/** Newest first. Streamable HTTP exists since 2025-03-26, so older revisions are not offered. */
export const SUPPORTED_PROTOCOL_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"] as const;
export const LATEST_PROTOCOL_VERSION = SUPPORTED_PROTOCOL_VERSIONS[0];
/** What a server must assume when a client sends no MCP-Protocol-Version header. */
export const DEFAULT_PROTOCOL_VERSION = "2025-03-26";
export const PROTOCOL_VERSION_HEADER = "MCP-Protocol-Version";
export const SESSION_HEADER = "Mcp-Session-Id";

export const JSONRPC_ERRORS = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
} as const;

export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: "2.0";
  id: JsonRpcId;
  method: string;
  params?: JsonObject;
}

export interface JsonRpcNotification {
  jsonrpc: "2.0";
  method: string;
  params?: JsonObject;
}

export interface JsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}

export type JsonRpcResponse = { jsonrpc: "2.0"; id: JsonRpcId | null; result: JsonObject } | { jsonrpc: "2.0"; id: JsonRpcId | null; error: JsonRpcError };

export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

export interface McpToolAnnotations extends JsonObject {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

export interface McpTool extends JsonObject {
  name: string;
  title?: string;
  description?: string;
  inputSchema: JsonObject;
  annotations?: McpToolAnnotations;
}

export type McpContent = JsonObject & { type: string };

export interface CallToolResult extends JsonObject {
  content: McpContent[];
  structuredContent?: JsonObject;
  isError?: boolean;
}

export function isRequest(message: JsonObject): message is JsonObject & JsonRpcRequest {
  return typeof message.method === "string" && (typeof message.id === "string" || typeof message.id === "number");
}

export function isNotification(message: JsonObject): boolean {
  return typeof message.method === "string" && !("id" in message);
}

export function isResponse(message: JsonObject): message is JsonObject & JsonRpcResponse {
  return !("method" in message) && ("result" in message || "error" in message);
}

/** A JSON-RPC 2.0 message, or null when `value` is not one. */
export function asMessage(value: unknown): JsonObject | null {
  if (!isJsonObject(value) || value.jsonrpc !== "2.0") return null;
  if ("params" in value && value.params !== undefined && !isJsonObject(value.params)) return null;
  return isRequest(value) || isNotification(value) || isResponse(value) ? value : null;
}

export function rpcResult(id: JsonRpcId, result: JsonObject): JsonRpcResponse {
  return { jsonrpc: "2.0", id, result };
}

export function rpcError(id: JsonRpcId | null, code: number, message: string): JsonRpcResponse {
  return { jsonrpc: "2.0", id, error: { code, message } };
}
