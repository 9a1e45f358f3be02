// What the orchestrator accepts on POST /v1/chat/completions. Strict where a mistake would reach the
// model as garbage (roles, tool pairing fields, types), open everywhere else: unknown fields are the
// client's parameters for the model and are forwarded untouched.

import * as z from "zod";
import { TOOL_NAME_PATTERN } from "../../kit/protocol.js";

const contentPart = z.looseObject({ type: z.string() });
const content = z.union([z.string(), z.array(contentPart)]);

const toolCall = z.looseObject({
  id: z.string().min(1),
  type: z.literal("function"),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }),
});

const message = z.discriminatedUnion("role", [
  z.looseObject({ role: z.literal("system"), content }),
  z.looseObject({ role: z.literal("developer"), content }),
  z.looseObject({ role: z.literal("user"), content }),
  z.looseObject({
    role: z.literal("assistant"),
    content: content.nullable().optional(),
    tool_calls: z.array(toolCall).optional(),
  }),
  z.looseObject({ role: z.literal("tool"), tool_call_id: z.string().min(1), content }),
]);

export const functionTool = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({
    name: z.string().regex(TOOL_NAME_PATTERN, "must be 1-64 letters, digits, underscores or dashes"),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});

const toolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.looseObject({ type: z.literal("function"), function: z.looseObject({ name: z.string() }) }),
]);

export const CONVERSATION_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

export const chatRequestSchema = z.looseObject({
  model: z.string().min(1).optional(),
  messages: z.array(message).min(1, "messages must hold at least one message"),
  tools: z.array(functionTool).optional(),
  tool_choice: toolChoice.optional(),
  parallel_tool_calls: z.boolean().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  n: z.literal(1).nullable().optional(),
  /** Which server tools this request may use; omitted means all, [] means none. */
  server_tools: z.array(z.string()).max(128).optional(),
  conversation_id: z.string().regex(CONVERSATION_ID, "must be 1-128 letters, digits or _ . : -").optional(),
});

export type ChatRequest = z.infer<typeof chatRequestSchema>;

/** The first problem, as OpenAI reports it: a message and the parameter it concerns. */
export function describeIssue(error: z.ZodError): { message: string; param: string | null } {
  const issue = error.issues[0];
  if (!issue) return { message: "Invalid request body.", param: null };
  const param = issue.path.reduce<string>(
    (path, segment) => (typeof segment === "number" ? `${path}[${segment}]` : path ? `${path}.${String(segment)}` : String(segment)),
    "",
  );
  let message = issue.message;
  if (issue.code === "invalid_type" && issue.input === undefined) message = "is required";
  if (issue.code === "invalid_union" && param.endsWith("role")) message = "must be one of system, developer, user, assistant, tool";
  return { message: param ? `Invalid value for '${param}': ${message}` : message, param: param || null };
}
