// `stream: true`: the same turn as the non-streaming door, written as OpenAI `chat.completion.chunk`
// events while it runs. Text deltas are forwarded as the model port hands them over; calls to the
// client's own functions stream as standard `tool_calls` deltas at the end. Only standard chunks by
// default: server tool activity is streamed as extension chunks only on request.
//
// The response starts once the first upstream stream has opened, so a request DMXAPI refuses still
// gets a plain HTTP error. After that, a failure ends the stream with an error event (the same body
// `app.onError` would answer with), and what the client saw is stored, marked incomplete.

import type { Context } from "hono";
import { errorBody } from "../http/error-body.js";
import { SseOutbox } from "../http/sse-outbox.js";
import { respondWithStreamedTurn } from "../http/streamed-turn.js";
import { randomToken } from "../lib/ids.js";
import type { LoopHooks } from "../loop/tool-loop.js";
import { completionToSse, toolCallDeltas, zeroUsage } from "../protocol/completion-chunks.js";
import type { ChatCompletion, JsonObject } from "../protocol/types.js";
import type { CompletedTurn, TurnOptions, TurnRequest } from "../run-turn.js";
import type { AppEnv } from "../types.js";

export interface StreamOptions {
  includeUsage: boolean;
  /** Server tool activity as extension chunks (`stream_options.include_tool_events`). */
  toolEvents: boolean;
  hooks?: LoopHooks;
  /** What the door commits beside the turn (its Idempotency-Key answer). */
  products?: TurnOptions["products"];
  onComplete?: (completion: ChatCompletion) => void;
  onFailure?: () => void;
}

export async function streamTurn(c: Context<AppEnv>, request: TurnRequest, options: StreamOptions): Promise<Response> {
  const base = {
    id: `chatcmpl-${randomToken(24)}`,
    object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000),
    model: request.parameters.model,
    system_fingerprint: null,
    conversation_id: request.conversationId,
  };
  const out = new SseOutbox();
  const delta = (fields: JsonObject, finishReason: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta: fields, logprobs: null, finish_reason: finishReason }],
  });
  const extension = (switchboard: JsonObject) => (options.toolEvents ? out.send({ ...base, choices: [], switchboard }) : undefined);

  return respondWithStreamedTurn(c, request, {
    out,
    ...(options.products ? { products: options.products } : {}),
    onFirstOpen: () => void out.send(delta({ role: "assistant", content: "" })),
    onDelta: (fields) => out.send(delta({ ...fields })),
    hooks: {
      ...options.hooks,
      onToolCalls: (step, calls) => {
        options.hooks?.onToolCalls?.(step, calls);
        extension({
          type: "tool_calls",
          step,
          calls: calls.map(({ call }) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments })),
        });
      },
      onToolResult: (event) => {
        options.hooks?.onToolResult?.(event);
        const { call } = event.call;
        extension({
          type: "tool_result",
          step: event.step,
          id: call.id,
          name: call.function.name,
          ok: event.outcome.ok,
          duration_ms: event.durationMs,
          // What the model reads of the result; the conversation stores the same text.
          content: event.content ?? null,
        });
      },
    },
    finish: async (completed) => {
      await finish(out, completed, delta, options.includeUsage);
      options.onComplete?.(completed.completion);
    },
    fail: (error) => out.send({ error: errorBody(error, c.get("log").redact).body.error }),
    settled: ({ ok }) => {
      if (!ok) options.onFailure?.();
    },
  });
}

async function finish(
  out: SseOutbox,
  completed: CompletedTurn,
  delta: (fields: JsonObject, finishReason?: string | null) => JsonObject,
  includeUsage: boolean,
) {
  const choice = completed.completion.choices[0];
  for (const fields of toolCallDeltas(choice?.message.tool_calls ?? [])) await out.send(delta(fields));
  await out.send(delta({}, choice?.finish_reason ?? "stop"));
  if (includeUsage) await out.send({ ...delta({}), choices: [], usage: completed.usage ?? zeroUsage() });
  await out.sendRaw("[DONE]");
}

/** Replays a stored completion (an Idempotency-Key hit) as the stream the first request received. */
export function replayAsStream(completion: ChatCompletion & { conversation_id: string }, includeUsage: boolean, headers: Headers): Response {
  const text = completionToSse(completion, { includeUsage, extra: { system_fingerprint: null, conversation_id: completion.conversation_id } });
  const responseHeaders = new Headers(headers);
  responseHeaders.set("Content-Type", "text/event-stream; charset=utf-8");
  responseHeaders.set("Cache-Control", "no-cache");
  return new Response(text, { headers: responseHeaders });
}
