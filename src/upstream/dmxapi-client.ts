// The model client: one POST to `{base}/chat/completions` with a Bearer key, a timeout per attempt,
// retries by the policy in retry-policy.ts, and upstream failures turned into UpstreamError with a
// status that tells the client whose fault it was.

import { normalizeCompletion } from "../protocol/normalize.js";
import type { ChatCompletion, ChatCompletionRequest, OpenAIErrorBody } from "../protocol/types.js";
import { isJsonObject } from "../protocol/types.js";
import { isRetryable, isUnknownModelError, retryDelayMs } from "./retry-policy.js";
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

export interface CallOptions {
  signal?: AbortSignal;
}

export interface RetryEvent {
  attempt: number;
  delayMs: number;
  status: number | null;
  message: string;
}

export interface DmxapiClientOptions {
  baseUrl: string;
  apiKey: string;
  defaultModel: string;
  /** Per attempt, not per turn. */
  timeoutMs: number;
  maxRetries: number;
  fetch?: typeof fetch;
  sleep?: (milliseconds: number) => Promise<void>;
  onRetry?: (event: RetryEvent) => void;
}

const wait = (milliseconds: number) => new Promise<void>((resolve) => setTimeout(resolve, milliseconds));

export function createDmxapiClient(options: DmxapiClientOptions): ModelClient {
  const endpoint = `${options.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const sleep = options.sleep ?? wait;

  async function send(request: ChatCompletionRequest, callOptions: CallOptions): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const outcome = await attemptOnce(request, callOptions.signal);
      if (outcome.response) return outcome.response;
      const { error, retryable, headers } = outcome;
      if (!retryable || attempt >= options.maxRetries || callOptions.signal?.aborted) throw error;
      const delayMs = retryDelayMs(attempt, headers);
      options.onRetry?.({ attempt: attempt + 1, delayMs, status: error.upstreamStatus, message: error.message });
      await sleep(delayMs);
    }
  }

  type Outcome =
    | { response: Response; error?: undefined; retryable?: undefined; headers?: undefined }
    | { response?: undefined; error: UpstreamError; retryable: boolean; headers: Headers | null };

  async function attemptOnce(request: ChatCompletionRequest, callerSignal: AbortSignal | undefined): Promise<Outcome> {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const signal = callerSignal ? AbortSignal.any([callerSignal, timeout]) : timeout;
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
        return { error: new UpstreamError("The request was cancelled.", { status: 499 }), retryable: false, headers: null };
      }
      const timedOut = timeout.aborted;
      const message = timedOut
        ? `DMXAPI did not answer within ${options.timeoutMs} ms.`
        : `Could not reach DMXAPI: ${cause instanceof Error ? cause.message : String(cause)}`;
      return {
        error: new UpstreamError(message, { status: timedOut ? 504 : 502, code: timedOut ? "upstream_timeout" : "upstream_unreachable" }),
        retryable: true,
        headers: null,
      };
    }
    if (response.ok) return { response };
    const body = await readErrorBody(response);
    return {
      error: toUpstreamError(response.status, body),
      retryable: isRetryable(response.status, response.headers, body),
      headers: response.headers,
    };
  }

  return {
    defaultModel: options.defaultModel,

    async complete(request, callOptions = {}) {
      for (let attempt = 0; ; attempt++) {
        const response = await send({ ...request, stream: false }, callOptions);
        const text = await response.text();
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        // Some gateways answer 200 with an error object, or a truncated body; both are worth a retry.
        const error = isJsonObject(parsed) && isJsonObject(parsed.error) ? toUpstreamError(502, asErrorBody(parsed)) : null;
        if (parsed !== undefined && !error) return normalizeCompletion(parsed);
        const failure = error ?? new UpstreamError("DMXAPI answered 200 with a body that is not JSON.", { status: 502, code: "upstream_invalid_response" });
        if (attempt >= options.maxRetries || callOptions.signal?.aborted) throw failure;
        const delayMs = retryDelayMs(attempt, null);
        options.onRetry?.({ attempt: attempt + 1, delayMs, status: 200, message: failure.message });
        await sleep(delayMs);
      }
    },

    async openStream(request, callOptions = {}) {
      const response = await send({ ...request, stream: true }, callOptions);
      if (!response.body) throw new UpstreamError("DMXAPI answered without a body.", { status: 502 });
      return response.body;
    },
  };
}

async function readErrorBody(response: Response): Promise<OpenAIErrorBody | null> {
  const text = await response.text().catch(() => "");
  try {
    return asErrorBody(JSON.parse(text));
  } catch {
    return null;
  }
}

function asErrorBody(value: unknown): OpenAIErrorBody | null {
  if (!isJsonObject(value) || !isJsonObject(value.error)) return null;
  const error = value.error;
  const code = error.code;
  return {
    error: {
      message: typeof error.message === "string" ? error.message : "",
      type: typeof error.type === "string" ? error.type : "upstream_error",
      param: typeof error.param === "string" && error.param !== "" ? error.param : null,
      code: typeof code === "string" || typeof code === "number" ? (code === "" ? null : code) : null,
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
    return new UpstreamError(`The model is not available: ${upstreamMessage}`, { ...base, status: 404, type: "invalid_request_error", code: "model_not_found" });
  }
  switch (status) {
    case 400:
    case 422:
      return new UpstreamError(upstreamMessage, { ...base, status: 400, type: "invalid_request_error" });
    case 401:
      return new UpstreamError(`DMXAPI rejected the orchestrator's API key: ${upstreamMessage}`, { ...base, status: 502, code: "upstream_authentication_failed" });
    case 403:
      return new UpstreamError(`DMXAPI refused the request (quota or permission): ${upstreamMessage}`, { ...base, status: 502, code: base.code ?? "upstream_forbidden" });
    case 404:
      return new UpstreamError(`DMXAPI has no such endpoint; check DMXAPI_BASE_URL: ${upstreamMessage}`, { ...base, status: 502, code: "upstream_not_found" });
    case 413:
      return new UpstreamError(`The conversation is too long for the model: ${upstreamMessage}`, { ...base, status: 413, type: "invalid_request_error", code: base.code ?? "context_length_exceeded" });
    case 429:
      return new UpstreamError(`The model is rate limited: ${upstreamMessage}`, { ...base, status: 429, type: "rate_limit_error", code: base.code ?? "rate_limit_exceeded" });
    case 408:
    case 504:
    case 524:
      return new UpstreamError(`DMXAPI timed out (${status}).`, { ...base, status: 504, code: "upstream_timeout" });
    default:
      return new UpstreamError(`DMXAPI failed (${status}): ${upstreamMessage}`, { ...base, status: status === 503 ? 503 : 502 });
  }
}
