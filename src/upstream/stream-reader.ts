// Rebuilds one chat completion from an upstream's `chat.completion.chunk` stream, tolerating what
// OpenAI-compatible upstreams actually send: tool call fragments without `index`, every call at
// index 0 with distinct ids, sparse or 1-based indexes, a repeated header, missing ids, arguments as
// objects, usage in a last chunk with no choices, an error object mid-stream under HTTP 200.

import { createParser } from "eventsource-parser";
import { randomToken } from "../lib/ids.js";
import type { AssistantMessage, ChatCompletion, JsonObject, Usage } from "../protocol/types.js";
import { isJsonObject } from "../protocol/types.js";
import { mapErrorCode } from "./error-vocabulary.js";
import { UpstreamError } from "./upstream-error.js";

interface PartialCall {
  id: string | undefined;
  name: string;
  arguments: string;
  extra: JsonObject;
}

/** What a chunk added that a client may want to see as it arrives. */
export interface ChunkDelta {
  content?: string;
  reasoning_content?: string;
  refusal?: string;
}

const DELTA_TEXT_FIELDS = ["content", "reasoning_content", "refusal"] as const;
const TOOL_CALL_STRUCTURE = new Set(["index", "id", "type", "function"]);

export class StreamAccumulator {
  private id: string | undefined;
  private created: number | undefined;
  private model: string | undefined;
  private extras: JsonObject = {};
  private readonly text: Record<(typeof DELTA_TEXT_FIELDS)[number], string | null> = { content: null, reasoning_content: null, refusal: null };
  private readonly calls: PartialCall[] = [];
  private readonly byIndex = new Map<number, PartialCall>();
  private finishReason: string | null = null;
  private usage: Usage | null = null;
  private sawChunk = false;

  /** Adds one parsed chunk; returns the text it carried. Throws UpstreamError for an error event. */
  add(chunk: unknown): ChunkDelta {
    if (!isJsonObject(chunk)) return {};
    if (isJsonObject(chunk.error)) {
      const message = typeof chunk.error.message === "string" ? chunk.error.message : "error event in stream";
      // Only the message passes (redacted where it leaves); the code is mapped, never copied.
      throw new UpstreamError(`DMXAPI failed mid-stream: ${message}`, { status: 502, code: mapErrorCode(chunk.error.code) });
    }
    this.sawChunk = true;
    if (typeof chunk.id === "string" && !this.id) this.id = chunk.id;
    if (typeof chunk.created === "number" && !this.created) this.created = chunk.created;
    if (typeof chunk.model === "string" && !this.model) this.model = chunk.model;
    if (isJsonObject(chunk.usage)) this.usage = chunk.usage as Usage;
    if (chunk.system_fingerprint !== undefined) this.extras.system_fingerprint = chunk.system_fingerprint;
    const choice = Array.isArray(chunk.choices) ? chunk.choices.find((candidate) => isJsonObject(candidate) && (candidate.index ?? 0) === 0) : undefined;
    if (!isJsonObject(choice)) return {};
    if (typeof choice.finish_reason === "string") this.finishReason = choice.finish_reason;
    const delta = isJsonObject(choice.delta) ? choice.delta : isJsonObject(choice.message) ? choice.message : {};
    const added: ChunkDelta = {};
    for (const field of DELTA_TEXT_FIELDS) {
      const value = delta[field];
      if (typeof value === "string") {
        this.text[field] = (this.text[field] ?? "") + value;
        if (value.length > 0) added[field] = value;
      }
    }
    if (Array.isArray(delta.tool_calls)) for (const fragment of delta.tool_calls) if (isJsonObject(fragment)) this.addToolCall(fragment);
    return added;
  }

  private addToolCall(fragment: JsonObject): void {
    const fn = isJsonObject(fragment.function) ? fragment.function : {};
    const id = typeof fragment.id === "string" && fragment.id !== "" ? fragment.id : typeof fragment.id === "number" ? String(fragment.id) : undefined;
    const index = typeof fragment.index === "number" ? fragment.index : undefined;
    let call: PartialCall | undefined;
    if (index !== undefined) {
      call = this.byIndex.get(index);
      // Several calls all at index 0, told apart only by their ids.
      if (call && id && call.id && id !== call.id) call = undefined;
    } else if (id) {
      call = this.calls.find((existing) => existing.id === id);
    } else {
      // No index, no id: a continuation of the last call, unless it names a new function.
      const last = this.calls[this.calls.length - 1];
      call = last && !(typeof fn.name === "string" && fn.name !== "" && last.name !== "") ? last : undefined;
    }
    if (!call) {
      call = { id, name: "", arguments: "", extra: {} };
      this.calls.push(call);
    }
    if (index !== undefined) this.byIndex.set(index, call);
    if (id && !call.id) call.id = id;
    // A repeated header re-sends the name whole; names are never streamed in pieces.
    if (typeof fn.name === "string" && fn.name !== "" && call.name === "") call.name = fn.name;
    if (typeof fn.arguments === "string") call.arguments += fn.arguments;
    else if (isJsonObject(fn.arguments)) call.arguments = JSON.stringify(fn.arguments);
    for (const [key, value] of Object.entries(fragment)) if (!TOOL_CALL_STRUCTURE.has(key)) call.extra[key] = value;
  }

  toCompletion(): ChatCompletion {
    if (!this.sawChunk) throw new UpstreamError("DMXAPI's stream ended before any chunk.", { status: 502, code: "upstream_stream_empty" });
    const message: AssistantMessage = { role: "assistant", content: this.text.content };
    if (this.text.reasoning_content !== null) message.reasoning_content = this.text.reasoning_content;
    if (this.text.refusal !== null) message.refusal = this.text.refusal;
    if (this.calls.length > 0) {
      // Ids are left as sent (possibly missing): normalization gives every call a unique one.
      message.tool_calls = this.calls.map((call) => ({
        ...call.extra,
        id: call.id ?? "",
        type: "function",
        function: { name: call.name, arguments: call.arguments },
      }));
    }
    return {
      ...this.extras,
      id: this.id ?? "",
      object: "chat.completion",
      created: this.created ?? Math.floor(Date.now() / 1000),
      model: this.model ?? "",
      // A stream cut off before any finish_reason is reported as "length": the output may be truncated.
      choices: [{ index: 0, message, finish_reason: this.finishReason ?? "length" }],
      usage: this.usage,
    };
  }
}

/**
 * Reads an SSE body into parsed chunks. Comments (`: PING`), `\r\n`, events split across reads and
 * several events in one read are the parser's job; a stream cut off before `[DONE]` ends the
 * iteration, and the completion reports finish_reason "length" when none arrived. The body is read
 * and decoded in this loop, not through a TextDecoderStream and a parser stream: every stream stage
 * costs a stream pair and a pipe per chunk, on the way to the first token.
 */
export async function* readChunks(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const events: string[] = [];
  const parser = createParser({ onEvent: (event) => void events.push(event.data) });
  // Set at the body's end or at `[DONE]`: anything else leaving this loop (an error, a consumer that
  // stopped early) cancels the body, which releases the upstream connection.
  let finished = false;
  try {
    for (;;) {
      for (let data = events.shift(); data !== undefined; data = events.shift()) {
        data = data.trim();
        if (data === "[DONE]") {
          finished = true;
          return;
        }
        if (data === "") continue;
        let chunk: unknown;
        try {
          chunk = JSON.parse(data);
        } catch {
          throw new UpstreamError(`DMXAPI sent a stream event that is not JSON: ${data.slice(0, 120)}`, { status: 502, code: "upstream_invalid_response" });
        }
        yield chunk;
      }
      if (finished) return;
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (cause) {
        if (cause instanceof UpstreamError) throw cause;
        throw new UpstreamError(`DMXAPI's stream broke off: ${cause instanceof Error ? cause.message : String(cause)}`, {
          status: 502,
          code: "upstream_stream_interrupted",
        });
      }
      if (next.done) {
        finished = true;
        parser.feed(decoder.decode());
      } else {
        parser.feed(decoder.decode(next.value, { stream: true }));
      }
    }
  } finally {
    if (!finished) reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/** A non-streaming answer as OpenAI shapes it, whatever the upstream left out; 502 when it has no message. */
export function normalizeCompletion(raw: unknown): ChatCompletion {
  if (!isJsonObject(raw) || !Array.isArray(raw.choices) || raw.choices.length === 0) {
    throw new UpstreamError("The model's response had no choices.", { status: 502 });
  }
  const first = raw.choices[0];
  if (!isJsonObject(first) || !isJsonObject(first.message)) {
    throw new UpstreamError("The model's response had no message.", { status: 502 });
  }
  return {
    ...raw,
    id: typeof raw.id === "string" ? raw.id : `chatcmpl-${randomToken(24)}`,
    object: "chat.completion",
    created: typeof raw.created === "number" ? raw.created : Math.floor(Date.now() / 1000),
    model: typeof raw.model === "string" ? raw.model : "",
    choices: raw.choices as ChatCompletion["choices"],
    usage: isJsonObject(raw.usage) ? (raw.usage as Usage) : null,
  };
}
