// What POST /v1/responses accepts, and how it becomes a turn of the one loop: Chat Completions
// parameters for the upstream, the client's functions, the per-turn system prompt. Every top-level
// field is either translated, Switchboard's own (store, metadata, previous_response_id,
// conversation, background), or refused with a 400
// naming it; nothing is silently dropped. The chat parameter policy then applies to what would be
// forwarded, exactly as on the chat door (token caps, fields that bill the operator).

import * as z from "zod/mini";
import { TOOL_NAME_PATTERN } from "../../../kit/protocol.js";
import { invalidRequest } from "../../errors.js";
import type { ParameterPolicy } from "../parameters.js";
import { applyParameterPolicy } from "../parameters.js";
import { CONVERSATION_ID, describeIssue } from "../request-schema.js";
import type { ChatMessage, FunctionToolDefinition, JsonObject, ToolChoice } from "../types.js";

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

export function clientTools(request: ResponsesRequest): FunctionToolDefinition[] {
  return (request.tools ?? []).map((tool, index) => {
    if (tool.type !== "function") {
      throw invalidRequest(
        `Tools of type '${tool.type}' are not supported: declare functions (type 'function'); Switchboard's own server tools are offered to the model without being declared.`,
        `tools[${index}].type`,
        "unsupported_value",
      );
    }
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
  });
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
