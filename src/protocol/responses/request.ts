// What POST /v1/responses accepts, and how it becomes a turn of the one loop: Chat Completions
// parameters for the upstream, the client's functions, the per-turn system prompt. Every top-level
// field is either translated, Switchboard's own (store, metadata, previous_response_id,
// conversation, background), or refused with a 400
// naming it; nothing is silently dropped. The chat parameter policy then applies to what would be
// forwarded, exactly as on the chat door (token caps, fields that bill the operator).

import * as z from "zod/mini";
import { TOOL_NAME_PATTERN } from "../../../kit/protocol.js";
import type { ClientApproval, ToolSelection } from "../../approvals/policy.js";
import { invalidRequest } from "../../errors.js";
import type { ParameterPolicy } from "../parameters.js";
import { applyParameterPolicy } from "../parameters.js";
import { CONVERSATION_ID, describeIssue } from "../request-schema.js";
import type { ChatMessage, FunctionToolDefinition, JsonObject, ToolChoice } from "../types.js";
import { SERVER_LABEL as SWITCHBOARD_LABEL } from "./output.js";

const functionTool = z.looseObject({
  type: z.literal("function"),
  name: z.string().check(z.regex(TOOL_NAME_PATTERN, "must be 1-64 letters, digits, underscores or dashes")),
  description: z.optional(z.nullable(z.string())),
  parameters: z.optional(z.nullable(z.record(z.string(), z.unknown()))),
  strict: z.optional(z.nullable(z.boolean())),
});

const toolChoice = z.union([z.enum(["none", "auto", "required"]), z.strictObject({ type: z.literal("function"), name: z.string().check(z.minLength(1)) })]);

const textFormat = z.union([
  z.strictObject({ type: z.literal("text") }),
  z.strictObject({ type: z.literal("json_object") }),
  z.strictObject({
    type: z.literal("json_schema"),
    name: z.string(),
    schema: z.record(z.string(), z.unknown()),
    description: z.optional(z.nullable(z.string())),
    strict: z.optional(z.nullable(z.boolean())),
  }),
]);

const metadata = z
  .record(z.string().check(z.maxLength(64)), z.string().check(z.maxLength(512)))
  .check(z.refine((value) => Object.keys(value).length <= 16, "may hold at most 16 keys"));

const opt = <T extends z.core.SomeType>(schema: T) => z.optional(z.nullable(schema));

export const responsesRequestSchema = z.looseObject({
  model: opt(z.string().check(z.minLength(1))),
  input: z.union([z.string(), z.array(z.unknown()).check(z.minLength(1, "must hold at least one item"))]),
  instructions: opt(z.string()),
  tools: opt(z.array(z.looseObject({ type: z.string() }))),
  tool_choice: opt(toolChoice),
  parallel_tool_calls: opt(z.boolean()),
  max_output_tokens: opt(z.int().check(z.minimum(1))),
  temperature: opt(z.number()),
  top_p: opt(z.number()),
  metadata: opt(metadata),
  store: opt(z.boolean()),
  previous_response_id: opt(z.string().check(z.regex(/^[A-Za-z0-9_-]{1,128}$/, "must be a response id"))),
  conversation: opt(z.union([z.string(), z.strictObject({ id: z.string() })])),
  reasoning: opt(
    z.strictObject({
      effort: opt(z.enum(["none", "minimal", "low", "medium", "high", "xhigh"])),
      summary: opt(z.enum(["auto", "concise", "detailed"])),
      generate_summary: opt(z.enum(["auto", "concise", "detailed"])),
    }),
  ),
  text: opt(z.strictObject({ format: opt(textFormat), verbosity: opt(z.enum(["low", "medium", "high"])) })),
  stream: opt(z.boolean()),
  stream_options: opt(z.strictObject({ include_obfuscation: opt(z.boolean()) })),
  include: opt(z.array(z.string())),
  truncation: opt(z.literal("disabled")),
  background: opt(z.boolean()),
  user: opt(z.string()),
  safety_identifier: opt(z.string()),
  prompt_cache_key: opt(z.string()),
  service_tier: opt(z.string()),
  prompt_cache_retention: opt(z.string()),
});

export type ResponsesRequest = z.infer<typeof responsesRequestSchema>;

/** Fields of the Responses API that Switchboard does not serve: refused unless null. */
const UNSUPPORTED = ["prompt", "top_logprobs", "max_tool_calls", "context_management", "prompt_cache_options"];
/** Forwarded to the model under the same name. */
const SAME_NAME = [
  "temperature",
  "top_p",
  "parallel_tool_calls",
  "user",
  "safety_identifier",
  "prompt_cache_key",
  "service_tier",
  "prompt_cache_retention",
] as const;
/** `include` values that ask for nothing Switchboard could add: there is no encrypted reasoning over Chat Completions. */
const INCLUDABLE = new Set(["reasoning.encrypted_content"]);

/** Parses and checks a request body; throws a 400 naming the first field at fault. */
export function parseResponsesRequest(body: JsonObject, policy: ParameterPolicy): ResponsesRequest {
  for (const [name, value] of Object.entries(body)) {
    if (name in responsesRequestSchema.shape || policy.allowed.has(name)) continue;
    if (UNSUPPORTED.includes(name)) {
      if (value === null) continue;
      throw invalidRequest(`The parameter '${name}' is not supported by Switchboard's Responses API.`, name, "unsupported_parameter");
    }
    throw invalidRequest(`Unrecognized request argument supplied: ${name}`, name, "unknown_parameter");
  }
  const parsed = responsesRequestSchema.safeParse(body);
  if (!parsed.success) {
    const { message, param } = describeIssue(parsed.error);
    throw invalidRequest(message, param, "invalid_value");
  }
  const request = parsed.data;
  request.include?.forEach((value, index) => {
    if (!INCLUDABLE.has(value)) throw invalidRequest(`include value '${value}' is not supported here.`, `include[${index}]`, "unsupported_value");
  });
  // A background response is polled and resumed from what is stored: without storing there is nothing to poll.
  if (request.background === true && request.store === false) {
    throw invalidRequest("A background response must be stored: background: true cannot be used with store: false.", "store");
  }
  if (request.previous_response_id && request.conversation) {
    throw invalidRequest("previous_response_id and conversation cannot both be set: a response already belongs to a conversation.", "conversation");
  }
  return request;
}

/** The conversation the request names with `conversation` (a Switchboard conversation id), checked. */
export function namedConversation(request: ResponsesRequest): string | null {
  const value = request.conversation;
  if (value === undefined || value === null) return null;
  const id = typeof value === "string" ? value : value.id;
  if (!CONVERSATION_ID.test(id)) throw invalidRequest("Invalid value for 'conversation': must be 1-128 letters, digits or _ . : -", "conversation");
  return id;
}

export interface RequestTools {
  clientTools: FunctionToolDefinition[];
  /** Set when the request declared `mcp` tools: only the sources they select are offered. */
  sources?: ToolSelection;
  /** Tools the request wants approved before they run (its `mcp` tools' `require_approval`). */
  approval?: ClientApproval;
}

/** A configured MCP server a request may name by label or by URL. */
export interface KnownServer {
  name: string;
  url: string;
}

const toolNames = z.union([z.array(z.string()), z.looseObject({ tool_names: z.optional(z.array(z.string())) })]);
const hostedTool = z.looseObject({
  type: z.literal("mcp"),
  server_label: z.string().check(z.minLength(1)),
  server_url: opt(z.string()),
  allowed_tools: opt(toolNames),
  require_approval: opt(
    z.union([
      z.enum(["always", "never"]),
      z.looseObject({ always: opt(z.looseObject({ tool_names: z.optional(z.array(z.string())) })), never: opt(z.unknown()) }),
    ]),
  ),
  headers: opt(z.record(z.string(), z.string())),
});

/**
 * The request's tools: functions for the client to run, and hosted `mcp` tools, which choose among
 * Switchboard's server tools (`server_label: "switchboard"`) and the operator's MCP servers (by
 * their configured name, or URL). A server the operator has not configured is refused, naming it:
 * a client cannot make the orchestrator call out anywhere new, nor send its own headers.
 */
export function requestTools(request: ResponsesRequest, servers: readonly KnownServer[]): RequestTools {
  const clientTools: FunctionToolDefinition[] = [];
  const sources: ToolSelection = [];
  const approval: ClientApproval = [];
  (request.tools ?? []).forEach((tool, index) => {
    if (tool.type === "function") clientTools.push(functionOf(tool, index));
    else if (tool.type === "mcp") {
      const hosted = hostedOf(tool, index, servers);
      sources.push(hosted.source);
      if (hosted.approval) approval.push(hosted.approval);
    } else {
      throw invalidRequest(
        `Tools of type '${tool.type}' are not supported: declare functions (type 'function') or Switchboard's MCP tools (type 'mcp', server_label 'switchboard'); server tools are offered without being declared.`,
        `tools[${index}].type`,
        "unsupported_value",
      );
    }
  });
  return { clientTools, ...(sources.length > 0 ? { sources } : {}), ...(approval.length > 0 ? { approval } : {}) };
}

function hostedOf(tool: unknown, index: number, servers: readonly KnownServer[]): { source: ToolSelection[number]; approval?: ToolSelection[number] } {
  const at = `tools[${index}]`;
  const parsed = hostedTool.safeParse(tool);
  if (!parsed.success) {
    const { message, param } = describeIssue(parsed.error);
    throw invalidRequest(message.replace(`'${param}'`, `'${at}.${param}'`), `${at}.${param}`, "invalid_value");
  }
  const { server_label: label, server_url: url, allowed_tools: allowed, require_approval: approval, headers } = parsed.data;
  if (headers && Object.keys(headers).length > 0) {
    throw invalidRequest(
      "Headers for MCP servers are the operator's (configured as secrets in MCP_SERVERS), not the request's.",
      `${at}.headers`,
      "unsupported_parameter",
    );
  }
  let server: string;
  if (url) {
    const known = servers.find((candidate) => sameUrl(candidate.url, url));
    if (!known)
      throw invalidRequest(`The MCP server ${url} is not one this orchestrator is configured to call (MCP_SERVERS).`, `${at}.server_url`, "server_not_allowed");
    server = known.name;
  } else if (label === SWITCHBOARD_LABEL || servers.some((candidate) => candidate.name === label)) {
    server = label;
  } else {
    throw invalidRequest(
      `No MCP server is configured with the label '${label}': use '${SWITCHBOARD_LABEL}' for Switchboard's tools or a configured server's name.`,
      `${at}.server_label`,
      "unknown_server",
    );
  }
  const names: "*" | string[] = allowed === undefined || allowed === null ? "*" : Array.isArray(allowed) ? allowed : (allowed.tool_names ?? "*");
  const source = { server_label: server, tools: names };
  if (approval === "always") return { source, approval: source };
  if (typeof approval === "object" && approval?.always?.tool_names) return { source, approval: { server_label: server, tools: approval.always.tool_names } };
  // "never" cannot lower what the operator or the tool requires: it asks for nothing more.
  return { source };
}

function sameUrl(configured: string, given: string): boolean {
  try {
    return new URL(configured).href === new URL(given).href;
  } catch {
    return false;
  }
}

function functionOf(tool: unknown, index: number): FunctionToolDefinition {
  const parsed = functionTool.safeParse(tool);
  if (!parsed.success) {
    const { message, param } = describeIssue(parsed.error);
    throw invalidRequest(message.replace(`'${param}'`, `'tools[${index}].${param}'`), `tools[${index}].${param}`, "invalid_value");
  }
  const { name, description, parameters, strict } = parsed.data;
  return {
    type: "function",
    function: {
      name,
      ...(description ? { description } : {}),
      ...(parameters ? { parameters: parameters as JsonObject } : {}),
      ...(typeof strict === "boolean" ? { strict } : {}),
    },
  };
}

export function instructionsOf(request: ResponsesRequest): ChatMessage[] | undefined {
  return request.instructions ? [{ role: "system", content: request.instructions }] : undefined;
}

/** What the upstream is sent besides messages and tools, in Chat Completions terms, after the parameter policy. */
export function chatParameters(request: ResponsesRequest, body: JsonObject, defaultModel: string, policy: ParameterPolicy): JsonObject & { model: string } {
  const parameters: JsonObject = {};
  for (const name of SAME_NAME) if (request[name] !== undefined && request[name] !== null) parameters[name] = request[name];
  if (request.max_output_tokens) parameters.max_completion_tokens = request.max_output_tokens;
  if (request.tool_choice) parameters.tool_choice = chatToolChoice(request.tool_choice);
  if (request.reasoning?.effort) parameters.reasoning_effort = request.reasoning.effort;
  if (request.text?.verbosity) parameters.verbosity = request.text.verbosity;
  const format = request.text?.format;
  if (format?.type === "json_object") parameters.response_format = { type: "json_object" };
  if (format?.type === "json_schema") {
    const { type: _type, ...schema } = format;
    parameters.response_format = { type: "json_schema", json_schema: withoutNulls(schema) };
  }
  // Fields the operator allowed beyond the Responses API go through as the chat door passes them.
  for (const [name, value] of Object.entries(body)) if (!(name in responsesRequestSchema.shape) && policy.allowed.has(name)) parameters[name] = value;
  return { ...applyParameterPolicy(parameters, policy), model: request.model ?? defaultModel };
}

function chatToolChoice(choice: NonNullable<ResponsesRequest["tool_choice"]>): ToolChoice {
  return typeof choice === "string" ? choice : { type: "function", function: { name: choice.name } };
}

function withoutNulls(value: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== null && entry !== undefined));
}
