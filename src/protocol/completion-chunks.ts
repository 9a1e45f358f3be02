// A whole completion as the chunks OpenAI would have streamed for it. Used where a stream is made
// from a finished answer: the offline model, and the replay of an idempotent streamed request.

import type { ChatCompletion, JsonObject, ToolCall, Usage } from "./types.js";

/** Each call as OpenAI streams it: a header fragment with id, type and name, then its arguments. */
export function toolCallDeltas(calls: readonly ToolCall[]): JsonObject[] {
  return calls.flatMap((call, index) => [
    { tool_calls: [{ index, id: call.id, type: "function", function: { name: call.function.name, arguments: "" } }] },
    { tool_calls: [{ index, function: { arguments: call.function.arguments } }] },
  ]);
}

export interface ChunkOptions {
  includeUsage: boolean;
  /** Fields added to every chunk (system_fingerprint, conversation_id). */
  extra?: JsonObject;
  /** Content is cut into pieces of this many characters; the whole content in one piece by default. */
  pieceSize?: number;
}

export function completionToSse(completion: ChatCompletion, options: ChunkOptions): string {
  const choice = completion.choices[0];
  const base = { id: completion.id, object: "chat.completion.chunk", created: completion.created, model: completion.model, ...options.extra };
  const chunk = (delta: JsonObject, finishReason: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  });
  const content = typeof choice?.message.content === "string" ? choice.message.content : "";
  const pieces = options.pieceSize ? (content.match(new RegExp(`[\\s\\S]{1,${options.pieceSize}}`, "g")) ?? []) : content ? [content] : [];
  const events: unknown[] = [
    chunk({ role: "assistant", content: "" }),
    ...pieces.map((piece) => chunk({ content: piece })),
    ...toolCallDeltas(choice?.message.tool_calls ?? []).map((delta) => chunk(delta)),
    chunk({}, choice?.finish_reason ?? "stop"),
  ];
  if (options.includeUsage) events.push({ ...base, choices: [], usage: completion.usage ?? zeroUsage() });
  return `${events.map((event) => `data: ${JSON.stringify(event)}\n\n`).join("")}data: [DONE]\n\n`;
}

export function zeroUsage(): Usage {
  return { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
}
