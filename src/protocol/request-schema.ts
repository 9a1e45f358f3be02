// What the orchestrator accepts on POST /v1/chat/completions. Strict where a mistake would reach the
// model as garbage (roles, tool pairing fields, types), open everywhere else; which other top-level
// parameters may reach the model is decided by the parameter policy (parameters.ts).

// zod/mini: the same validation at a fraction of the bundle (the orchestrator's cold start pays for every KiB).
import * as z from "zod/mini";
import { TOOL_NAME_PATTERN } from "../../kit/protocol.js";

const contentPart = z.looseObject({ type: z.string() });
const content = z.union([z.string(), z.array(contentPart)]);

/** Tool call ids are echoed to the model and stored: bounded like every other id. */
const toolCallId = z.string().check(z.regex(/^[\x21-\x7e]{1,256}$/, "must be 1-256 visible ASCII characters"));

const toolCall = z.looseObject({
  id: toolCallId,
  type: z.literal("function"),
  function: z.looseObject({ name: z.string().check(z.minLength(1)), arguments: z.string() }),
});

const message = z.discriminatedUnion("role", [
  z.looseObject({ role: z.literal("system"), content }),
  z.looseObject({ role: z.literal("developer"), content }),
  z.looseObject({ role: z.literal("user"), content }),
  z.looseObject({
    role: z.literal("assistant"),
    content: z.optional(z.nullable(content)),
    tool_calls: z.optional(z.array(toolCall)),
  }),
  z.looseObject({ role: z.literal("tool"), tool_call_id: toolCallId, content }),
]);

export const functionTool = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({
    name: z.string().check(z.regex(TOOL_NAME_PATTERN, "must be 1-64 letters, digits, underscores or dashes")),
    description: z.optional(z.string()),
    parameters: z.optional(z.record(z.string(), z.unknown())),
  }),
});

const toolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.looseObject({ type: z.literal("function"), function: z.looseObject({ name: z.string() }) }),
]);

export const CONVERSATION_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

export const chatRequestSchema = z.looseObject({
  model: z.optional(z.string().check(z.minLength(1))),
  messages: z.array(message).check(z.minLength(1, "messages must hold at least one message")),
  tools: z.optional(z.array(functionTool)),
  tool_choice: z.optional(toolChoice),
  parallel_tool_calls: z.optional(z.boolean()),
  stream: z.optional(z.nullable(z.boolean())),
  stream_options: z.optional(
    z.nullable(
      z.looseObject({
        include_usage: z.optional(z.boolean()),
        /** Switchboard: also stream server tool activity as extension chunks (choices: []). */
        include_tool_events: z.optional(z.boolean()),
      }),
    ),
  ),
  n: z.optional(z.nullable(z.literal(1))),
  /** Which server tools this request may use; omitted means all, [] means none. */
  server_tools: z.optional(z.array(z.string()).check(z.maxLength(128))),
  conversation_id: z.optional(z.string().check(z.regex(CONVERSATION_ID, "must be 1-128 letters, digits or _ . : -"))),
});

export type ChatRequest = z.infer<typeof chatRequestSchema>;

/** The first problem, as OpenAI reports it: a message and the parameter it concerns. */
export function describeIssue(error: z.core.$ZodError): { message: string; param: string | null } {
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
