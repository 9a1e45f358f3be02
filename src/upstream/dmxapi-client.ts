// The model client: one POST to `{base}/chat/completions` with a Bearer key, a timeout per attempt,
// retries by the policy in retry-policy.ts, and upstream failures turned into UpstreamError with a
// status that tells the client whose fault it was.

import type { ModelCallOptions, ModelRetryEvent } from "../loop/model-port.js";
import type { ChatCompletion, ChatCompletionRequest, OpenAIErrorBody } from "../protocol/types.js";
import { isJsonObject } from "../protocol/types.js";
import { mapErrorCode, mapErrorParam, mapErrorType } from "./error-vocabulary.js";
import { isRetryable, isUnknownModelError, retryDelayMs } from "./retry-policy.js";
import { normalizeCompletion } from "./stream-reader.js";
import { UpstreamError } from "./upstream-error.js";

export interface ModelClient {
  /** The model name used when a request names none. */
  readonly defaultModel: string;
  /** A non-streaming completion; retried until it succeeds or the policy gives up. */
  complete(request: ChatCompletionRequest, options?: CallOptions): Promise<ChatCompletion>;
  /**
   * Opens a streaming completion and returns its SSE body once the upstream answered 2xx. Retries
   * happen only here, before a single byte has been read, so nothing retried ever reached a client.
   */
  openStream(request: ChatCompletionRequest, options?: CallOptions): Promise<ReadableStream<Uint8Array>>;
}

export type CallOptions = ModelCallOptions;
export type RetryEvent = ModelRetryEvent;

export interface DmxapiClientOptions {
  baseUrl: string;
  apiKey: string;
  defaultModel: string;
  /** Per attempt, not per turn. */
  timeoutMs: number;
  maxRetries: number;
  /** Largest response body read, a whole stream included (default 8 MiB); more is a 502. */
  maxResponseBytes?: number;
  fetch?: typeof fetch;
  sleep?: (milliseconds: number) => Promise<void>;
  onRetry?: (event: RetryEvent) => void;
}

const wait = (milliseconds: number) => new Promise<void>((resolve) => setTimeout(resolve, milliseconds));
const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1_048_576;
/** An error body is only read for its message: anything longer is not worth reading. */
const MAX_ERROR_BODY_BYTES = 65_536;

export function createDmxapiClient(options: DmxapiClientOptions): ModelClient {
  const endpoint = `${options.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const sleep = options.sleep ?? wait;
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const tooLarge = () =>
    new UpstreamError(`DMXAPI answered with more than ${maxResponseBytes} bytes (MAX_UPSTREAM_RESPONSE_BYTES).`, {
      status: 502,
      code: "upstream_response_too_large",
    });

  type Outcome<Value> = { value: Value; error?: undefined } | { value?: undefined; error: UpstreamError; retryable: boolean; headers: Headers | null };

  /** One retry budget for every way an attempt can fail: status, network, timeout, unusable body. */
  async function withRetries<Value>(callOptions: CallOptions, attempt: () => Promise<Outcome<Value>>): Promise<Value> {
    const { signal } = callOptions;
    for (let retry = 0; ; retry++) {
      const outcome = await attempt();
      if (outcome.error === undefined) return outcome.value as Value;
      const { error, retryable, headers } = outcome;
      if (!retryable || retry >= options.maxRetries || signal?.aborted) throw error;
      const delayMs = retryDelayMs(retry, headers);
      const event = { attempt: retry + 1, delayMs, status: error.upstreamStatus, message: error.message };
      options.onRetry?.(event);
      callOptions.onRetry?.(event);
      await sleep(delayMs);
    }
  }

  const cancelled = () => ({ error: new UpstreamError("The request was cancelled.", { status: 499 }), retryable: false as const, headers: null });
  const timeoutError = () => new UpstreamError(`DMXAPI did not answer within ${options.timeoutMs} ms.`, { status: 504, code: "upstream_timeout" });

  /**
   * Sends the request; `timeoutMs` runs until the response headers arrive. The returned controller
   * aborts the body: the caller arms its own timer for reading it.
   */
  async function open(
    request: ChatCompletionRequest,
    callerSignal: AbortSignal | undefined,
  ): Promise<Outcome<{ response: Response; controller: AbortController }>> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), options.timeoutMs);
    const signal = callerSignal ? AbortSignal.any([callerSignal, controller.signal]) : controller.signal;
    let response: Response;
    try {
      response = await doFetch(endpoint, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${options.apiKey}`,
          "Content-Type": "application/json",
          Accept: request.stream ? "text/event-stream" : "application/json",
        },
        body: JSON.stringify(request),
        signal,
      });
    } catch (cause) {
      if (callerSignal?.aborted) {
        return cancelled();
      }
      const error = controller.signal.aborted
        ? timeoutError()
        : new UpstreamError(`Could not reach DMXAPI: ${cause instanceof Error ? cause.message : String(cause)}`, { status: 502, code: "upstream_unreachable" });
      return { error, retryable: true, headers: null };
    } finally {
      clearTimeout(timer);
    }
    if (response.ok) return { value: { response, controller } };
    const body = await readErrorBody(response);
    return { error: toUpstreamError(response.status, body), retryable: isRetryable(response.status, response.headers, body), headers: response.headers };
  }

  return {
    defaultModel: options.defaultModel,

    complete(request, callOptions = {}) {
      return withRetries(callOptions, async () => {
        const opened = await open({ ...request, stream: false }, callOptions.signal);
        if (opened.error) return opened;
        const { response, controller } = opened.value;
        const timer = setTimeout(() => controller.abort(), options.timeoutMs);
        let text: string | null;
        try {
          text = await readCapped(response, maxResponseBytes);
        } catch {
          if (callOptions.signal?.aborted) return cancelled();
          return { error: timeoutError(), retryable: true, headers: null };
        } finally {
          clearTimeout(timer);
        }
        // Not retried: the same request would be billed again for the same oversized answer.
        if (text === null) return { error: tooLarge(), retryable: false, headers: null };
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        // Some gateways answer 200 with an error object, or a truncated body; both are worth a retry.
        if (isJsonObject(parsed) && isJsonObject(parsed.error)) {
          const mapped = toUpstreamError(502, asErrorBody(parsed));
          const error = new UpstreamError(mapped.message, { status: 502, upstreamStatus: 200, code: mapped.code, type: mapped.type, param: mapped.param });
          return { error, retryable: true, headers: null };
        }
        if (parsed === undefined) {
          return {
            error: new UpstreamError("DMXAPI answered 200 with a body that is not JSON.", { status: 502, code: "upstream_invalid_response" }),
            retryable: true,
            headers: null,
          };
        }
        return { value: normalizeCompletion(parsed) };
      });
    },

    async openStream(request, callOptions = {}) {
      const { response, controller } = await withRetries(callOptions, () => open({ ...request, stream: true }, callOptions.signal));
      if (!response.body) throw new UpstreamError("DMXAPI answered without a body.", { status: 502 });
      return guarded(response.body, { idleMs: options.timeoutMs, maxBytes: maxResponseBytes, controller, idle: timeoutError, tooLarge });
    },
  };
}

interface StreamGuards {
  /** A stream may rightly run for minutes; what must not happen is silence longer than this. */
  idleMs: number;
  maxBytes: number;
  /** Aborting it releases the upstream connection. */
  controller: AbortController;
  idle: () => UpstreamError;
  tooLarge: () => UpstreamError;
}

/**
 * The body, erroring when no bytes arrive for `idleMs` or more than `maxBytes` went through; either
 * way the connection is released. One pull-based stream in front of the body rather than a chain of
 * TransformStreams: each of those is a stream pair and a pipe that every chunk crosses.
 */
function guarded(body: ReadableStream<Uint8Array>, guards: StreamGuards): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let seen = 0;
  const stop = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  const fail = (stream: ReadableStreamDefaultController<Uint8Array>, error: UpstreamError) => {
    stop();
    try {
      stream.error(error);
    } catch {
      // Already closed or cancelled by the reader: nothing is waiting for it.
    }
    guards.controller.abort();
  };
  let arm: () => void = () => undefined;
  return new ReadableStream<Uint8Array>({
    start(stream) {
      arm = () => {
        stop();
        timer = setTimeout(() => fail(stream, guards.idle()), guards.idleMs);
      };
      arm();
    },
    async pull(stream) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        stop();
        throw error;
      }
      const { done, value } = next;
      if (done) {
        stop();
        stream.close();
        return;
      }
      seen += value.byteLength;
      if (seen > guards.maxBytes) return fail(stream, guards.tooLarge());
      arm();
      stream.enqueue(value);
    },
    cancel(reason) {
      stop();
      return reader.cancel(reason);
    },
  });
}

/** The body as text, or null when it is longer than `maxBytes` (reading stops there). */
async function readCapped(response: Response, maxBytes: number): Promise<string | null> {
  if (!response.body) return "";
  // A declared length within the cap: the runtime's own read, without a chunk-by-chunk loop. (A body
  // longer than it declared is cut by the runtime, so the cap still holds.)
  const declared = Number(response.headers.get("Content-Length") ?? Number.NaN);
  if (Number.isInteger(declared) && declared >= 0 && declared <= maxBytes && !response.headers.has("Content-Encoding")) return response.text();
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let seen = 0;
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    seen += value.byteLength;
    if (seen > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}

async function readErrorBody(response: Response): Promise<OpenAIErrorBody | null> {
  const text = (await readCapped(response, MAX_ERROR_BODY_BYTES).catch(() => "")) ?? "";
  try {
    return asErrorBody(JSON.parse(text));
  } catch {
    return null;
  }
}

/**
 * The upstream's error, of which only the message is kept as text (redacted before it leaves);
 * `type`, `code` and `param` are mapped onto a fixed vocabulary, never copied.
 */
function asErrorBody(value: unknown): OpenAIErrorBody | null {
  if (!isJsonObject(value) || !isJsonObject(value.error)) return null;
  const error = value.error;
  return {
    error: {
      message: typeof error.message === "string" ? error.message : "",
      type: mapErrorType(error.type),
      param: mapErrorParam(error.param),
      code: mapErrorCode(error.code),
    },
  };
}

/**
 * Chooses the status the client sees. The client's own mistakes (bad parameters, an unknown model,
 * a prompt too long) keep their 4xx; the orchestrator's configuration problems (DMXAPI rejecting our
 * key, a wrong base URL) are a 502, because no change to the client's request would fix them.
 */
export function toUpstreamError(status: number, body: OpenAIErrorBody | null): UpstreamError {
  const upstreamMessage = body?.error.message || `HTTP ${status}`;
  const base = { upstreamStatus: status, code: body?.error.code ?? null, param: body?.error.param ?? null };
  if (isUnknownModelError(status, body)) {
    return new UpstreamError(`The model is not available: ${upstreamMessage}`, {
      ...base,
      status: 404,
      type: "invalid_request_error",
      code: "model_not_found",
    });
  }
  switch (status) {
    case 400:
    case 422:
      return new UpstreamError(upstreamMessage, { ...base, status: 400, type: "invalid_request_error" });
    case 401:
      return new UpstreamError(`DMXAPI rejected the orchestrator's API key: ${upstreamMessage}`, {
        ...base,
        status: 502,
        code: "upstream_authentication_failed",
      });
    case 403:
      return new UpstreamError(`DMXAPI refused the request (quota or permission): ${upstreamMessage}`, {
        ...base,
        status: 502,
        code: base.code ?? "upstream_forbidden",
      });
    case 404:
      return new UpstreamError(`DMXAPI has no such endpoint; check DMXAPI_BASE_URL: ${upstreamMessage}`, { ...base, status: 502, code: "upstream_not_found" });
    case 413:
      return new UpstreamError(`The conversation is too long for the model: ${upstreamMessage}`, {
        ...base,
        status: 413,
        type: "invalid_request_error",
        code: base.code ?? "context_length_exceeded",
      });
    case 429:
      return new UpstreamError(`The model is rate limited: ${upstreamMessage}`, {
        ...base,
        status: 429,
        type: "rate_limit_error",
        code: base.code ?? "rate_limit_exceeded",
      });
    case 408:
    case 504:
    case 524:
      return new UpstreamError(`DMXAPI timed out (${status}).`, { ...base, status: 504, code: "upstream_timeout" });
    default:
      return new UpstreamError(`DMXAPI failed (${status}): ${upstreamMessage}`, { ...base, status: status === 503 ? 503 : 502 });
  }
}
