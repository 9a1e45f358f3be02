// Responses `input` → Chat Completions messages, the only history the loop and the upstream know.
// A Responses step is a run of items (reasoning, a message, tool calls, their outputs); a chat step
// is one assistant message whose tool_calls are answered right after it. Items of one step are
// folded back into one assistant message so the model sees the step as it made it.

import * as z from "zod/mini";
import { invalidRequest } from "../../errors.js";
import type { AssistantMessage, ChatMessage, ContentPart, ToolCall, ToolMessage } from "../types.js";
import { isJsonObject } from "../types.js";

/** Same bound as the chat door's tool call ids: they are echoed to the model and stored. */
const callId = z.string().check(z.regex(/^[\x21-\x7e]{1,256}$/, "must be 1-256 visible ASCII characters"));
const part = z.looseObject({ type: z.string() });
const content = z.union([z.string(), z.array(part)]);

const ITEM_SCHEMAS = {
  message: z.looseObject({ role: z.enum(["user", "assistant", "system", "developer"]), content }),
  function_call: z.looseObject({ call_id: callId, name: z.string().check(z.minLength(1)), arguments: z.string() }),
  function_call_output: z.looseObject({ call_id: callId, output: content }),
  mcp_call: z.looseObject({
    id: callId,
    name: z.string().check(z.minLength(1)),
    arguments: z.string(),
    output: z.optional(z.nullable(z.string())),
    error: z.optional(z.unknown()),
  }),
  reasoning: z.looseObject({
    summary: z.optional(z.array(z.looseObject({ text: z.string() }))),
    content: z.optional(z.nullable(z.array(z.looseObject({ text: z.string() })))),
  }),
  // What a client echoes of an earlier response (the Agents SDK sends its whole history back): the
  // conversation Switchboard keeps already holds what they stand for.
  mcp_list_tools: z.looseObject({}),
  mcp_approval_request: z.looseObject({ id: z.string() }),
  // A decision: read by the door before the input becomes messages (approvalResponses).
  mcp_approval_response: z.looseObject({
    approval_request_id: z.string().check(z.minLength(1)),
    approve: z.boolean(),
    reason: z.optional(z.nullable(z.string().check(z.maxLength(1_000)))),
  }),
} as const;

/** An `mcp_approval_response` of the input, where it was. */
export interface ApprovalResponse {
  index: number;
  id: string;
  approve: boolean;
  reason?: string;
}

/** The input's decisions on approval requests (checked like every other item). */
export function approvalResponses(input: string | readonly unknown[]): ApprovalResponse[] {
  if (typeof input === "string") return [];
  const found: ApprovalResponse[] = [];
  input.forEach((raw, index) => {
    if (!isJsonObject(raw) || raw.type !== "mcp_approval_response") return;
    const parsed = ITEM_SCHEMAS.mcp_approval_response.safeParse(raw);
    if (!parsed.success) throw itemIssue(parsed.error, `input[${index}]`);
    const { approval_request_id: id, approve, reason } = parsed.data;
    found.push({ index, id, approve, ...(reason ? { reason } : {}) });
  });
  return found;
}

type ItemType = keyof typeof ITEM_SCHEMAS;
type Item<T extends ItemType> = z.infer<(typeof ITEM_SCHEMAS)[T]>;

export function inputToMessages(input: string | readonly unknown[]): ChatMessage[] {
  if (typeof input === "string") return [{ role: "user", content: input }];
  const steps = new StepFolder();
  input.forEach((raw, index) => {
    const param = `input[${index}]`;
    if (!isJsonObject(raw)) throw invalidRequest(`Invalid value for '${param}': must be an object.`, param, "invalid_value");
    const type = raw.type ?? "message";
    if (typeof type !== "string" || !(type in ITEM_SCHEMAS)) {
      throw invalidRequest(
        `Input items of type '${String(type)}' are not supported: send messages, function_call, function_call_output, mcp_call, mcp_approval_response and reasoning items.`,
        `${param}.type`,
        "unsupported_value",
      );
    }
    const parsed = ITEM_SCHEMAS[type as ItemType].safeParse(raw);
    if (!parsed.success) throw itemIssue(parsed.error, param);
    steps.add(type as ItemType, parsed.data, param);
  });
  return steps.finish();
}

class StepFolder {
  private readonly messages: ChatMessage[] = [];
  /** The assistant message of the step being read: it may still take tool calls. */
  private open: AssistantMessage | null = null;
  private serverResults: ToolMessage[] = [];
  private clientResults: ToolMessage[] = [];
  private reasoning = "";

  add(type: ItemType, item: Item<ItemType>, param: string): void {
    if (type === "mcp_list_tools" || type === "mcp_approval_request" || type === "mcp_approval_response") return;
    if (type === "message") this.message(item as Item<"message">, param);
    else if (type === "reasoning") this.reason(item as Item<"reasoning">);
    else if (type === "mcp_call") this.mcpCall(item as Item<"mcp_call">);
    else if (type === "function_call") {
      const call = item as Item<"function_call">;
      this.call({ id: call.call_id, type: "function", function: { name: call.name, arguments: call.arguments } });
    } else {
      const output = item as Item<"function_call_output">;
      this.clientResults.push({ role: "tool", tool_call_id: output.call_id, content: joinText(output.output, `${param}.output`) });
    }
  }

  finish(): ChatMessage[] {
    this.flush();
    return this.messages;
  }

  private message(item: Item<"message">, param: string): void {
    this.flush();
    if (item.role === "assistant") {
      const text = joinText(item.content, `${param}.content`);
      this.open = this.assistant(text.length > 0 ? text : null);
      return;
    }
    this.messages.push({ role: item.role, content: userContent(item.content, `${param}.content`) });
  }

  private reason(item: Item<"reasoning">): void {
    // Reasoning opens a step: what follows it is that step's message and calls.
    this.flush();
    const parts = [...(item.summary ?? []), ...(item.content ?? [])];
    this.reasoning += parts.map((entry) => entry.text).join("\n\n");
  }

  private mcpCall(item: Item<"mcp_call">): void {
    const error = item.error === undefined || item.error === null ? null : errorText(item.error);
    // A client that kept a server call without its result (the Agents SDK drops `output`) kept
    // nothing the model needs: the answer built from it follows anyway.
    if ((item.output === undefined || item.output === null) && error === null) return;
    this.call({ id: item.id, type: "function", function: { name: item.name, arguments: item.arguments } });
    const content = item.output ?? JSON.stringify({ error: { type: "tool_error", message: error } });
    this.serverResults.push({ role: "tool", tool_call_id: item.id, content });
  }

  private call(call: ToolCall): void {
    // Calls after the client's answers belong to the next step.
    if (!this.open || this.clientResults.length > 0) {
      this.flush();
      this.open = this.assistant(null);
    }
    this.open.tool_calls = [...(this.open.tool_calls ?? []), call];
  }

  private assistant(content: string | null): AssistantMessage {
    const message: AssistantMessage = { role: "assistant", content };
    if (this.reasoning) message.reasoning_content = this.reasoning;
    this.reasoning = "";
    return message;
  }

  private flush(): void {
    if (this.open) this.messages.push(this.open);
    this.messages.push(...this.serverResults, ...this.clientResults);
    this.open = null;
    this.serverResults = [];
    this.clientResults = [];
  }
}

type Parts = string | ReadonlyArray<{ type: string; [key: string]: unknown }>;

/** Text of an assistant message or a tool output: the text parts, joined. */
function joinText(value: Parts, param: string): string {
  if (typeof value === "string") return value;
  return value
    .map((entry, index) => {
      if ((entry.type === "output_text" || entry.type === "input_text") && typeof entry.text === "string") return entry.text;
      if (entry.type === "refusal" && typeof entry.refusal === "string") return entry.refusal;
      throw unsupportedPart(entry.type, `${param}[${index}]`);
    })
    .join("");
}

function userContent(value: Parts, param: string): string | ContentPart[] {
  if (typeof value === "string") return value;
  const parts = value.map((entry, index): ContentPart => {
    if ((entry.type === "input_text" || entry.type === "output_text") && typeof entry.text === "string") return { type: "text", text: entry.text };
    if (entry.type === "input_image" && typeof entry.image_url === "string") {
      return { type: "image_url", image_url: { url: entry.image_url, ...(typeof entry.detail === "string" ? { detail: entry.detail } : {}) } };
    }
    throw unsupportedPart(entry.type, `${param}[${index}]`);
  });
  const [only] = parts;
  return parts.length === 1 && only?.type === "text" ? String(only.text) : parts;
}

function unsupportedPart(type: string, param: string) {
  return invalidRequest(
    `Content parts of type '${type}' are not supported here: send input_text, or input_image with an image_url (files are not uploaded through Switchboard).`,
    `${param}.type`,
    "unsupported_value",
  );
}

function errorText(error: unknown): string {
  if (typeof error === "string") return error;
  if (isJsonObject(error) && typeof error.message === "string") return error.message;
  return JSON.stringify(error);
}

function itemIssue(error: z.core.$ZodError, param: string) {
  const issue = error.issues[0];
  const path = (issue?.path ?? []).reduce<string>((at, key) => (typeof key === "number" ? `${at}[${key}]` : `${at}.${String(key)}`), param);
  const message = issue?.code === "invalid_type" && issue.input === undefined ? "is required" : (issue?.message ?? "is invalid");
  return invalidRequest(`Invalid value for '${path}': ${message}`, path, "invalid_value");
}
