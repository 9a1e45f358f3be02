// `stream: true` on POST /v1/responses: the same turn, written as the Responses event stream while it
// runs. The output builder turns the model port's deltas and the loop's tool hooks into output items
// and their events; this file keeps only HTTP (the SSE response, keep-alive, the client going away).
//
// As on the chat door, the response starts once the first upstream stream has opened, so a request
// DMXAPI refuses gets a plain HTTP error. After that a failure ends the stream with an `error` event
// (the body app.onError would have answered with) and `response.failed`.

import type { Context } from "hono";
import type { TurnProducts } from "../conversations/turns.js";
import { errorBody } from "../http/error-body.js";
import { SseOutbox } from "../http/sse-outbox.js";
import { respondWithStreamedTurn } from "../http/streamed-turn.js";
import type { LoopHooks } from "../loop/tool-loop.js";
import { toToolMessage } from "../loop/tool-loop.js";
import { OutputBuilder, serverResult } from "../protocol/responses/output.js";
import { failedResponse, finishedResponse } from "../protocol/responses/response.js";
import type { ResponseEvent, ResponseObject } from "../protocol/responses/types.js";
import type { CompletedTurn, TurnRequest } from "../run-turn.js";
import type { AppEnv } from "../types.js";

export interface ResponseStreamOptions {
  hooks: LoopHooks;
  /** What the door commits beside the turn, given the finished response; committed before `response.completed`. */
  products: (response: ResponseObject, completed: CompletedTurn) => TurnProducts;
  /** The response was stored and sent. */
  answered: (response: ResponseObject) => void;
  /** Ids for the output items, naming the response (protocol/responses/references). */
  itemIds: (prefix: string) => string;
  /** The turn failed or the client went away: nothing to replay. */
  onFailure?: () => void;
}

export async function streamResponse(c: Context<AppEnv>, request: TurnRequest, shell: ResponseObject, options: ResponseStreamOptions): Promise<Response> {
  const out = new SseOutbox();
  let sequence = 0;
  let written: Promise<void> = Promise.resolve();
  const send = (event: ResponseEvent) => {
    written = out.send({ ...event, sequence_number: sequence++ }, event.type);
    return written;
  };
  const builder = new OutputBuilder(send, options.itemIds);
  const { maxToolOutputChars } = c.get("config").limits;
  // Built once the loop has answered, before the commit: the commit keeps exactly what the client is sent.
  let finished: ResponseObject | null = null;
  const finish = (completed: CompletedTurn): ResponseObject => {
    if (finished) return finished;
    const choice = completed.completion.choices[0];
    builder.clientCalls(choice?.finish_reason === "tool_calls" ? (choice.message.tool_calls ?? []) : []);
    builder.endStep();
    finished = finishedResponse(shell, builder.items, { finishReason: choice?.finish_reason, usage: completed.usage, model: completed.completion.model });
    return finished;
  };
  return respondWithStreamedTurn(c, request, {
    out,
    products: (completed) => options.products(finish(completed), completed),
    onFirstOpen: () => {
      send({ type: "response.created", response: shell });
      send({ type: "response.in_progress", response: shell });
    },
    onDelta: (delta) => {
      if (delta.reasoning_content) builder.reasoning(delta.reasoning_content);
      if (delta.content) builder.text(delta.content);
      if (delta.refusal) builder.text(delta.refusal);
      return written;
    },
    hooks: {
      ...options.hooks,
      onToolCalls: (step, calls) => {
        options.hooks.onToolCalls?.(step, calls);
        builder.serverCalls(calls.map(({ call }) => call));
      },
      onToolResult: (event) => {
        options.hooks.onToolResult?.(event);
        const { content } = toToolMessage(event.call, event.outcome, maxToolOutputChars);
        builder.serverResult(event.call.call.id, serverResult(typeof content === "string" ? content : JSON.stringify(content), !event.outcome.ok));
      },
    },
    finish: async (completed) => {
      const response = finish(completed);
      await send({ type: response.status === "completed" ? "response.completed" : "response.incomplete", response });
      options.answered(response);
    },
    settled: ({ ok }) => {
      if (!ok) options.onFailure?.();
    },
    fail: async (error) => {
      const { code, message, param } = errorBody(error, c.get("log").redact).body.error;
      builder.endStep();
      await send({ type: "error", code: code === null ? null : String(code), message, param });
      await send({ type: "response.failed", response: failedResponse(shell, builder.items, { code, message }) });
    },
  });
}

/**
 * Replays a finished response (an Idempotency-Key hit) as the event stream a client reads it from:
 * created, in progress, each output item added and done, completed.
 */
export function replayResponseStream(response: ResponseObject, headers: Headers): Response {
  let sequence = 0;
  const events: ResponseEvent[] = [
    { type: "response.created", response: { ...response, status: "in_progress", output: [] } },
    { type: "response.in_progress", response: { ...response, status: "in_progress", output: [] } },
    ...response.output.flatMap((item, index): ResponseEvent[] => [
      { type: "response.output_item.added", output_index: index, item },
      { type: "response.output_item.done", output_index: index, item },
    ]),
    { type: response.status === "completed" ? "response.completed" : "response.incomplete", response },
  ];
  const text = events.map((event) => `event: ${event.type}\ndata: ${JSON.stringify({ ...event, sequence_number: sequence++ })}\n\n`).join("");
  const replayHeaders = new Headers(headers);
  replayHeaders.set("Content-Type", "text/event-stream; charset=utf-8");
  replayHeaders.set("Cache-Control", "no-cache");
  return new Response(text, { headers: replayHeaders });
}
