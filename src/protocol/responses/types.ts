// OpenAI Responses API wire types, as far as Switchboard speaks them: snake_case as on the wire, open
// where clients echo fields back that Switchboard does not read.

import type { JsonObject } from "../types.js";

export interface OutputText extends JsonObject {
  type: "output_text";
  text: string;
  annotations: unknown[];
  logprobs: unknown[];
}

export interface MessageItem extends JsonObject {
  type: "message";
  id: string;
  status: "in_progress" | "completed" | "incomplete";
  role: "assistant";
  content: Array<OutputText | { type: "refusal"; refusal: string }>;
}

export interface ReasoningItem extends JsonObject {
  type: "reasoning";
  id: string;
  summary: Array<{ type: "summary_text"; text: string }>;
}

export interface FunctionCallItem extends JsonObject {
  type: "function_call";
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: "in_progress" | "completed";
}

/** A server tool's call, run by Switchboard: the shape Responses gives every tool the server ran for an MCP server. */
export interface McpCallItem extends JsonObject {
  type: "mcp_call";
  id: string;
  server_label: string;
  name: string;
  arguments: string;
  output: string | null;
  error: string | null;
  status: "in_progress" | "completed" | "failed";
}

/** A server tool's call that waits for a person: the response ends with it; the client answers with an `mcp_approval_response`. */
export interface McpApprovalRequestItem extends JsonObject {
  type: "mcp_approval_request";
  id: string;
  server_label: string;
  name: string;
  arguments: string;
}

export type OutputItem = MessageItem | ReasoningItem | FunctionCallItem | McpCallItem | McpApprovalRequestItem;

export interface ResponseUsage extends JsonObject {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export type ResponseStatus = "queued" | "in_progress" | "completed" | "incomplete" | "failed" | "cancelled";

export interface ResponseObject extends JsonObject {
  id: string;
  object: "response";
  created_at: number;
  status: ResponseStatus;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: string } | null;
  model: string;
  output: OutputItem[];
  usage: ResponseUsage | null;
  conversation: { id: string } | null;
}

/** One event of the Responses stream, before its sequence_number is given. */
export type ResponseEvent = JsonObject & { type: string };
