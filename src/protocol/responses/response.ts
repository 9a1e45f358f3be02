// The response object: what the request asked for, echoed as Responses echoes it, around the output
// and usage the turn produced.

import type { Usage } from "../types.js";
import { responseUsage, statusOf } from "./output.js";
import type { ResponsesRequest } from "./request.js";
import type { OutputItem, ResponseObject } from "./types.js";

export interface ShellFields {
  id: string;
  model: string;
  /** The conversation the turn runs in; null when nothing of it is kept (`store: false` on a new conversation). */
  conversationId: string | null;
  createdAt: number;
}

/** The response before any output: what `response.created` carries. */
export function responseShell(request: ResponsesRequest, fields: ShellFields): ResponseObject {
  return {
    id: fields.id,
    object: "response",
    created_at: fields.createdAt,
    status: "in_progress",
    background: request.background === true,
    error: null,
    incomplete_details: null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    metadata: request.metadata ?? {},
    model: fields.model,
    output: [],
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    previous_response_id: request.previous_response_id ?? null,
    reasoning: { effort: request.reasoning?.effort ?? null, summary: request.reasoning?.summary ?? null },
    store: request.store !== false,
    temperature: request.temperature ?? null,
    text: { format: request.text?.format ?? { type: "text" }, ...(request.text?.verbosity ? { verbosity: request.text.verbosity } : {}) },
    tool_choice: request.tool_choice ?? "auto",
    tools: request.tools ?? [],
    top_p: request.top_p ?? null,
    truncation: "disabled",
    usage: null,
    user: request.user ?? null,
    conversation: fields.conversationId ? { id: fields.conversationId } : null,
  };
}

export function finishedResponse(
  shell: ResponseObject,
  output: OutputItem[],
  turn: { finishReason: string | null | undefined; usage: Usage | null; model: string | undefined },
): ResponseObject {
  return { ...shell, ...statusOf(turn.finishReason), model: turn.model ?? shell.model, output, usage: responseUsage(turn.usage) };
}

export function failedResponse(shell: ResponseObject, output: OutputItem[], error: { code: string | number | null; message: string }): ResponseObject {
  return { ...shell, status: "failed", output, error: { code: String(error.code ?? "server_error"), message: error.message } };
}
