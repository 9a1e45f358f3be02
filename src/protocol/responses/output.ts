// A turn's output as Responses output items, built one way for both forms of the door: the streaming
// route feeds the builder as the turn runs (each call emits the events a Responses stream carries),
// the non-streaming route replays the finished turn's messages into it. The same items either way.
//
// Server tools are `mcp_call` items: the shape Responses gives a tool the server already ran (its
// output or error included), which official clients record and never execute. Every server tool,
// tool Worker or MCP server's, is also served at Switchboard's own MCP endpoint under the same
// name, hence one server_label. Functions the client declared are `function_call` items for it to run.

import { randomToken } from "../../lib/ids.js";
import type { ChatMessage, ContentPart, ToolCall, Usage } from "../types.js";
import { isJsonObject } from "../types.js";
import type {
  FunctionCallItem,
  McpApprovalRequestItem,
  McpCallItem,
  MessageItem,
  OutputItem,
  OutputText,
  ReasoningItem,
  ResponseEvent,
  ResponseUsage,
} from "./types.js";

export const SERVER_LABEL = "switchboard";

export interface ServerResult {
  output: string | null;
  error: string | null;
}

type Open = { kind: "message"; item: MessageItem; part: OutputText; index: number } | { kind: "reasoning"; item: ReasoningItem; index: number };

export class OutputBuilder {
  readonly items: OutputItem[] = [];
  private open: Open | null = null;
  private readonly serverIndex = new Map<string, number>();

  constructor(
    private readonly emit: (event: ResponseEvent) => void = () => undefined,
    private readonly newId: (prefix: string) => string = (prefix) => `${prefix}_${randomToken(24)}`,
  ) {}

  reasoning(delta: string): void {
    if (!delta) return;
    let open = this.open;
    if (open?.kind !== "reasoning") {
      this.endStep();
      const item: ReasoningItem = { type: "reasoning", id: this.newId("rs"), summary: [] };
      open = this.start({ kind: "reasoning", item, index: this.items.length });
      this.emit({ type: "response.output_item.added", output_index: open.index, item: { ...item, summary: [] } });
      item.summary.push({ type: "summary_text", text: "" });
      this.emit({ type: "response.reasoning_summary_part.added", ...at(open), summary_index: 0, part: { type: "summary_text", text: "" } });
    }
    const part = open.item.summary[0]!;
    part.text += delta;
    this.emit({ type: "response.reasoning_summary_text.delta", ...at(open), summary_index: 0, delta });
  }

  text(delta: string): void {
    if (!delta) return;
    let open = this.open;
    if (open?.kind !== "message") {
      this.endStep();
      const item: MessageItem = { type: "message", id: this.newId("msg"), status: "in_progress", role: "assistant", content: [] };
      const part: OutputText = { type: "output_text", text: "", annotations: [], logprobs: [] };
      open = this.start({ kind: "message", item, part, index: this.items.length });
      this.emit({ type: "response.output_item.added", output_index: open.index, item: { ...item, content: [] } });
      item.content.push(part);
      this.emit({ type: "response.content_part.added", ...at(open), content_index: 0, part: { ...part } });
    }
    open.part.text += delta;
    this.emit({ type: "response.output_text.delta", ...at(open), content_index: 0, delta, logprobs: [] });
  }

  /** The model finished a step: its text (or reasoning) item is done. */
  endStep(): void {
    const open = this.open;
    if (!open) return;
    this.open = null;
    if (open.kind === "message") {
      const { part, item } = open;
      this.emit({ type: "response.output_text.done", ...at(open), content_index: 0, text: part.text, logprobs: [] });
      this.emit({ type: "response.content_part.done", ...at(open), content_index: 0, part: { ...part } });
      item.status = "completed";
    } else {
      const part = open.item.summary[0]!;
      this.emit({ type: "response.reasoning_summary_text.done", ...at(open), summary_index: 0, text: part.text });
      this.emit({ type: "response.reasoning_summary_part.done", ...at(open), summary_index: 0, part: { ...part } });
    }
    this.emit({ type: "response.output_item.done", output_index: open.index, item: open.item });
  }

  /** Server calls about to run: each an `mcp_call` in progress until its result. */
  serverCalls(calls: readonly ToolCall[]): void {
    this.endStep();
    for (const call of calls) {
      const item: McpCallItem = {
        type: "mcp_call",
        id: call.id,
        server_label: SERVER_LABEL,
        name: call.function.name,
        arguments: call.function.arguments,
        output: null,
        error: null,
        status: "in_progress",
      };
      const index = this.items.push(item) - 1;
      this.serverIndex.set(call.id, index);
      this.emit({ type: "response.output_item.added", output_index: index, item: { ...item } });
      this.emit({ type: "response.mcp_call.in_progress", item_id: item.id, output_index: index });
    }
  }

  serverResult(callId: string, result: ServerResult): void {
    const index = this.serverIndex.get(callId);
    const item = index === undefined ? undefined : this.items[index];
    if (index === undefined || item?.type !== "mcp_call") return;
    item.output = result.output;
    item.error = result.error;
    item.status = result.error === null ? "completed" : "failed";
    this.emit({ type: result.error === null ? "response.mcp_call.completed" : "response.mcp_call.failed", item_id: item.id, output_index: index });
    this.emit({ type: "response.output_item.done", output_index: index, item: { ...item } });
  }

  /** Calls that wait for a person: `mcp_approval_request` items, where the response ends. */
  approvalRequests(approvals: ReadonlyArray<{ id: string; server_label: string; name: string; arguments: string }>): void {
    this.endStep();
    for (const approval of approvals) {
      const item: McpApprovalRequestItem = {
        type: "mcp_approval_request",
        id: approval.id,
        server_label: approval.server_label,
        name: approval.name,
        arguments: approval.arguments,
      };
      const index = this.items.push(item) - 1;
      this.emit({ type: "response.output_item.added", output_index: index, item: { ...item } });
      this.emit({ type: "response.output_item.done", output_index: index, item: { ...item } });
    }
  }

  /** Calls of the client's own functions: `function_call` items, returned for the client to run. */
  clientCalls(calls: readonly ToolCall[]): void {
    this.endStep();
    for (const call of calls) {
      const item: FunctionCallItem = {
        type: "function_call",
        id: this.newId("fc"),
        call_id: call.id,
        name: call.function.name,
        arguments: "",
        status: "in_progress",
      };
      const index = this.items.push(item) - 1;
      const where = { item_id: item.id, output_index: index };
      this.emit({ type: "response.output_item.added", output_index: index, item: { ...item } });
      this.emit({ type: "response.function_call_arguments.delta", ...where, delta: call.function.arguments });
      item.arguments = call.function.arguments;
      item.status = "completed";
      this.emit({ type: "response.function_call_arguments.done", ...where, name: item.name, arguments: item.arguments });
      this.emit({ type: "response.output_item.done", output_index: index, item: { ...item } });
    }
  }

  private start<T extends Open>(open: T): T {
    this.items.push(open.item);
    this.open = open;
    return open;
  }
}

function at(open: Open) {
  return { item_id: open.item.id, output_index: open.index };
}

/**
 * Replays what a finished turn produced (the messages after its input) into a builder. A tool call
 * answered within the turn was the server's; one left unanswered is the client's to run.
 * `failed` holds the ids of server calls that failed (from the loop's hooks).
 */
export function replayTurn(builder: OutputBuilder, produced: readonly ChatMessage[], failed: ReadonlySet<string>): void {
  const answers = new Map(produced.flatMap((message) => (message.role === "tool" ? [[message.tool_call_id, textOf(message.content)] as const] : [])));
  for (const message of produced) {
    if (message.role !== "assistant") continue;
    if (typeof message.reasoning_content === "string") builder.reasoning(message.reasoning_content);
    builder.text(textOf(message.content));
    const calls = message.tool_calls ?? [];
    const server = calls.filter((call) => answers.has(call.id));
    builder.serverCalls(server);
    for (const call of server) builder.serverResult(call.id, serverResult(answers.get(call.id) ?? "", failed.has(call.id)));
    builder.clientCalls(calls.filter((call) => !answers.has(call.id)));
  }
  builder.endStep();
}

/** A server call's result as an `mcp_call` shows it: the output the model read, or the error's message. */
export function serverResult(content: string, failed: boolean): ServerResult {
  if (!failed) return { output: content, error: null };
  let message = content;
  try {
    const parsed: unknown = JSON.parse(content);
    if (isJsonObject(parsed) && isJsonObject(parsed.error) && typeof parsed.error.message === "string") message = parsed.error.message;
  } catch {
    // Not the loop's error JSON (cut at the output limit): the text as it is.
  }
  return { output: null, error: message };
}

/** A message's text, its parts' text joined. */
export function textOf(content: string | ContentPart[] | null): string {
  if (typeof content === "string") return content;
  return (content ?? []).map((part) => (typeof part.text === "string" ? part.text : "")).join("");
}

export function responseUsage(usage: Usage | null): ResponseUsage | null {
  if (!usage) return null;
  const cached = isJsonObject(usage.prompt_tokens_details) ? usage.prompt_tokens_details.cached_tokens : 0;
  const reasoning = isJsonObject(usage.completion_tokens_details) ? usage.completion_tokens_details.reasoning_tokens : 0;
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: typeof cached === "number" ? cached : 0 },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: typeof reasoning === "number" ? reasoning : 0 },
    total_tokens: usage.total_tokens,
  };
}

/** How the last model call ended, as a Responses status. */
export function statusOf(finishReason: string | null | undefined): { status: "completed" | "incomplete"; incomplete_details: { reason: string } | null } {
  if (finishReason === "length") return { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } };
  if (finishReason === "content_filter") return { status: "incomplete", incomplete_details: { reason: "content_filter" } };
  return { status: "completed", incomplete_details: null };
}
