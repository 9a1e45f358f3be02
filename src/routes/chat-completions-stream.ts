// `stream: true`: the same turn as the non-streaming door, written to the client as OpenAI
// `chat.completion.chunk` events while it runs. Each model step streams from DMXAPI and its text is
// forwarded as it arrives; calls to the client's own functions stream as standard `tool_calls`
// deltas. Only standard chunks by default (one choice each; `choices: []` only for the usage chunk
// the client asked for): server tool activity is streamed as extension chunks only on request.
//
// The response starts once the first upstream stream has opened, so a request DMXAPI refuses still
// gets a plain HTTP error. After that, failures end the stream with an error event, and whatever
// the turn had produced is stored, marked incomplete.

import type { Context } from "hono";
import { ApiError } from "../errors.js";
import type { LoopHooks, ModelStep } from "../loop/tool-loop.js";
import { completionToSse, toolCallDeltas, zeroUsage } from "../protocol/completion-chunks.js";
import { randomToken } from "../protocol/normalize.js";
import { readChunks, StreamAccumulator } from "../protocol/stream-accumulator.js";
import type { ChatCompletion, ChatCompletionRequest, JsonObject } from "../protocol/types.js";
import type { TurnDependencies, TurnRequest } from "../run-turn.js";
import { runTurn } from "../run-turn.js";
import type { AppEnv } from "../types.js";
import type { ModelClient } from "../upstream/dmxapi-client.js";
import { UpstreamError } from "../upstream/upstream-error.js";

const KEEP_ALIVE_MS = 10_000;
const encoder = new TextEncoder();

/** Writes SSE to the client; notices when the client is gone instead of throwing at the loop. */
class ChunkWriter {
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private lastWrite = Date.now();
  private readonly keepAlive: ReturnType<typeof setInterval>;
  closed = false;

  constructor(
    writable: WritableStream<Uint8Array>,
    private readonly base: JsonObject,
    private readonly onClientGone: () => void,
    keepAliveMs: number,
  ) {
    this.writer = writable.getWriter();
    // Comments keep proxies and clients from timing out while tools run; every SSE client ignores them.
    this.keepAlive = setInterval(
      () => {
        if (Date.now() - this.lastWrite >= keepAliveMs) void this.raw(": keep-alive\n\n");
      },
      Math.max(50, Math.floor(keepAliveMs / 2)),
    );
  }

  private async raw(text: string): Promise<void> {
    if (this.closed) return;
    this.lastWrite = Date.now();
    try {
      await this.writer.write(encoder.encode(text));
    } catch {
      this.stop();
      this.onClientGone();
    }
  }

  chunk(choices: unknown[], extra: JsonObject = {}): Promise<void> {
    return this.raw(`data: ${JSON.stringify({ ...this.base, choices, ...extra })}\n\n`);
  }

  delta(delta: JsonObject, finishReason: string | null = null): Promise<void> {
    return this.chunk([{ index: 0, delta, logprobs: null, finish_reason: finishReason }]);
  }

  event(data: unknown): Promise<void> {
    return this.raw(`data: ${JSON.stringify(data)}\n\n`);
  }

  async close(withDone: boolean): Promise<void> {
    if (withDone) await this.raw("data: [DONE]\n\n");
    this.stop();
    await this.writer.close().catch(() => undefined);
  }

  private stop(): void {
    this.closed = true;
    clearInterval(this.keepAlive);
  }
}

/** A model step that streams from DMXAPI, forwards text deltas, and returns the whole completion. */
function streamingStep(
  model: ModelClient,
  signal: AbortSignal,
  out: () => ChunkWriter | null,
  onOpened: () => void,
  onText: (text: string) => void,
): ModelStep {
  return async (request: ChatCompletionRequest) => {
    const body = await model.openStream({ ...request, stream_options: { include_usage: true } }, { signal });
    onOpened();
    const accumulator = new StreamAccumulator();
    for await (const chunk of readChunks(body)) {
      const added = accumulator.add(chunk);
      if (added.content) onText(added.content);
      const writer = out();
      if (writer && (added.content || added.reasoning_content || added.refusal)) await writer.delta({ ...added });
      if (signal.aborted) throw new UpstreamError("The client went away.", { status: 499 });
    }
    return accumulator.toCompletion();
  };
}

export interface StreamOptions {
  hooks?: LoopHooks;
  /** Stream server tool activity as extension chunks (`stream_options.include_tool_events`); off by default. */
  toolEvents?: boolean;
  deadlineMs: number;
  /** The whole completion, as a non-streaming request would have answered, once the turn is stored. */
  onComplete?: (completion: ChatCompletion & { conversation_id: string }) => void;
  onFailure?: () => void;
}

export async function streamTurn(
  c: Context<AppEnv>,
  dependencies: TurnDependencies & { model: ModelClient },
  request: TurnRequest,
  includeUsage: boolean,
  options: StreamOptions,
): Promise<Response> {
  const abort = new AbortController();
  const deadline = request.signal;
  const signal = deadline ? AbortSignal.any([abort.signal, deadline]) : abort.signal;
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const base = {
    id: `chatcmpl-${randomToken(24)}`,
    object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000),
    model: request.parameters.model,
    system_fingerprint: null,
    conversation_id: request.conversationId,
  };
  let writer: ChunkWriter | null = null;
  let partialText = "";
  let opened = false;
  let signalOpened: () => void = () => undefined;
  const firstOpen = new Promise<void>((resolve) => {
    signalOpened = resolve;
  });

  const callModel = streamingStep(
    dependencies.model,
    signal,
    () => writer,
    () => {
      if (opened) return;
      opened = true;
      writer = new ChunkWriter(writable, base, () => abort.abort(), keepAliveMs(c));
      void writer.delta({ role: "assistant", content: "" });
      signalOpened();
    },
    (text) => {
      partialText += text;
    },
  );

  const turn = runTurn(
    dependencies,
    { ...request, signal },
    {
      callModel,
      keepPartial: () => (opened ? partialText : ""),
      hooks: {
        ...options.hooks,
        // The text of a step that ended in tool calls is already in a committed message.
        onTurnMessage: (message) => {
          partialText = "";
          options.hooks?.onTurnMessage?.(message);
        },
        onToolCalls: (step, calls) => {
          options.hooks?.onToolCalls?.(step, calls);
          if (options.toolEvents) {
            void writer?.chunk([], {
              switchboard: {
                type: "tool_calls",
                step,
                calls: calls.map((call) => ({ id: call.call.id, name: call.call.function.name, arguments: call.call.function.arguments })),
              },
            });
          }
        },
        onToolResult: (event) => {
          options.hooks?.onToolResult?.(event);
          if (options.toolEvents) {
            void writer?.chunk([], {
              switchboard: {
                type: "tool_result",
                step: event.step,
                id: event.call.call.id,
                name: event.call.call.function.name,
                ok: event.outcome.ok,
                duration_ms: event.durationMs,
              },
            });
          }
        },
      },
    },
  );

  // Until the first upstream stream opens, a failure is an ordinary HTTP error and nothing is stored.
  const beforeOpen = await Promise.race([
    firstOpen.then(() => null),
    turn.then(
      () => null,
      (error: unknown) => (opened ? null : { error }),
    ),
  ]);
  if (beforeOpen) throw beforeOpen.error; // the caller maps it (deadline, upstream) to an HTTP error
  // When the turn finished before the writer existed (impossible: a model call always opens first).
  const out = writer as ChunkWriter | null;
  if (!out) throw new ApiError(500, "The stream could not start.");

  const finish = turn.then(
    async (completed) => {
      const choice = completed.completion.choices[0];
      const message = choice?.message;
      for (const delta of toolCallDeltas(message?.tool_calls ?? [])) await out.delta(delta);
      await out.delta({}, choice?.finish_reason ?? "stop");
      if (includeUsage) await out.chunk([], { usage: completed.usage ?? zeroUsage() });
      await out.close(true);
      options.onComplete?.({ ...completed.completion, conversation_id: request.conversationId });
    },
    async (error: unknown) => {
      options.onFailure?.();
      await out.event(streamErrorBody(error, deadline?.aborted === true, options.deadlineMs, c.get("log").redact));
      await out.close(false);
    },
  );
  c.executionCtx.waitUntil(finish);

  return new Response(readable, {
    headers: {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache",
      Connection: "keep-alive",
      "X-Conversation-Id": request.conversationId,
      "X-Request-Id": request.requestId,
    },
  });
}

function streamErrorBody(error: unknown, deadlineHit: boolean, deadlineMs: number, redact: (text: string) => string): JsonObject {
  if (deadlineHit) {
    return {
      error: {
        message: `The turn did not finish within ${deadlineMs} ms; what was generated so far is stored.`,
        type: "timeout_error",
        param: null,
        code: "turn_deadline_exceeded",
      },
    };
  }
  if (error instanceof UpstreamError) {
    return { error: { message: redact(error.message), type: error.status === 499 ? "client_closed" : "upstream_error", param: null, code: error.code } };
  }
  return { error: { message: "The turn failed; what was generated so far is stored.", type: "server_error", param: null, code: null } };
}

/** Replays a stored completion (an Idempotency-Key hit) as the stream the first request received. */
export function replayAsStream(completion: ChatCompletion & { conversation_id: string }, includeUsage: boolean, headers: Headers): Response {
  const text = completionToSse(completion, { includeUsage, extra: { system_fingerprint: null, conversation_id: completion.conversation_id } });
  const responseHeaders = new Headers(headers);
  responseHeaders.set("Content-Type", "text/event-stream; charset=utf-8");
  responseHeaders.set("Cache-Control", "no-cache");
  return new Response(text, { headers: responseHeaders });
}

function keepAliveMs(c: Context<AppEnv>): number {
  const configured = Number(c.env.STREAM_KEEPALIVE_MS);
  return Number.isInteger(configured) && configured >= 100 ? configured : KEEP_ALIVE_MS;
}
