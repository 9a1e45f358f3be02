// `stream: true`: the same turn as the non-streaming door, written as OpenAI `chat.completion.chunk`
// events while it runs. Text deltas are forwarded as the model port hands them over; calls to the
// client's own functions stream as standard `tool_calls` deltas at the end. Only standard chunks by
// default: server tool activity is streamed as extension chunks only on request.
//
// The response starts once the first upstream stream has opened, so a request DMXAPI refuses still
// gets a plain HTTP error. After that, a failure ends the stream with an error event (the same body
// `app.onError` would answer with), and what the client saw is stored, marked incomplete. A stored
// turn is a run in its conversation's home: a client that goes away stops reading, not the turn,
// which lands in the conversation.

import type { Context } from "hono";
import { approvalNotice } from "../approvals/park.js";
import { approvalView } from "../approvals/types.js";
import { respondWithRun } from "../http/run-stream.js";
import { SseOutbox } from "../http/sse-outbox.js";
import { randomToken } from "../lib/ids.js";
import { completionToSse, toolCallDeltas, zeroUsage } from "../protocol/completion-chunks.js";
import type { ChatCompletion, JsonObject } from "../protocol/types.js";
import type { RunEvent, RunResult, SequencedEvent, TerminalEvent } from "../runs/types.js";
import type { AppEnv } from "../types.js";

export interface StreamOptions {
  model: string;
  conversationId: string;
  includeUsage: boolean;
  /** Server tool activity as extension chunks (`stream_options.include_tool_events`). */
  toolEvents: boolean;
  clientGone: AbortController;
  /** The run ended for this client: its terminal event, or null when the client left first. */
  ended?: (terminal: TerminalEvent | null) => void;
}

export function streamTurn(c: Context<AppEnv>, events: AsyncIterable<SequencedEvent>, options: StreamOptions): Promise<Response> {
  const base = {
    id: `chatcmpl-${randomToken(24)}`,
    object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000),
    model: options.model,
    system_fingerprint: null,
    conversation_id: options.conversationId,
  };
  const out = new SseOutbox();
  const delta = (fields: JsonObject, finishReason: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta: fields, logprobs: null, finish_reason: finishReason }],
  });
  const extension = (switchboard: JsonObject) => (options.toolEvents ? out.send({ ...base, choices: [], switchboard }) : undefined);
  let opened = false;
  const write = (event: RunEvent): Promise<void> | undefined => {
    switch (event.type) {
      case "open":
        if (opened) return undefined;
        opened = true;
        return out.send(delta({ role: "assistant", content: "" }));
      case "delta":
        return out.send(delta({ ...event.delta }));
      case "tool_calls":
        return extension({
          type: "tool_calls",
          step: event.step,
          calls: event.calls.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments })),
        });
      case "tool_result":
        return extension({
          type: "tool_result",
          step: event.step,
          id: event.call.id,
          name: event.call.function.name,
          ok: event.ok,
          duration_ms: event.duration_ms,
          // What the model reads of the result; the conversation stores the same text.
          content: event.content,
        });
      case "approval_requested":
        return extension({ type: "approval_requested", step: event.step, approvals: event.approvals.map(approvalView) as unknown as JsonObject[] });
      case "completed":
        return finish(out, event.result, delta, options.includeUsage);
      case "failed":
        return out.send({ error: event.failure.body.error });
      default:
        return undefined;
    }
  };
  return respondWithRun(c, events, { out, clientGone: options.clientGone, write, ...(options.ended ? { ended: options.ended } : {}) });
}

async function finish(out: SseOutbox, result: RunResult, delta: (fields: JsonObject, finishReason?: string | null) => JsonObject, includeUsage: boolean) {
  const choice = result.completion.choices[0];
  for (const fields of toolCallDeltas(choice?.message.tool_calls ?? [])) await out.send(delta(fields));
  if (result.approvals) {
    // A parked turn: the streamed text is the model's; what waits and where to decide it follows, as text and as data.
    await out.send(delta({ content: `\n\n${approvalNotice(result.approvals)}` }));
    await out.send({ ...delta({}, "stop"), pending_approvals: result.approvals.map(approvalView) as unknown as JsonObject[] });
  } else await out.send(delta({}, choice?.finish_reason ?? "stop"));
  if (includeUsage) await out.send({ ...delta({}), choices: [], usage: result.usage ?? zeroUsage() });
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
