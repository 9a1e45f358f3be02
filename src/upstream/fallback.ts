// Fallback models: when the requested model keeps failing after its retries (overloaded, down, or
// unknown to the gateway), the same request goes to the next model in DMXAPI_FALLBACK_MODELS. Errors
// no other model would fix (our key refused, a bad parameter) are not retried elsewhere. Streams
// fall back only while opening: once a stream has started, nothing is retried.

import type { ChatCompletionRequest } from "../protocol/types.js";
import type { CallOptions, ModelClient } from "./dmxapi-client.js";
import { UpstreamError } from "./upstream-error.js";

const NOT_MODEL_SPECIFIC = new Set(["upstream_authentication_failed", "upstream_forbidden", "upstream_not_found", "insufficient_quota"]);

export function shouldFallBack(error: unknown): error is UpstreamError {
  if (!(error instanceof UpstreamError)) return false;
  if (error.code === "model_not_found") return true;
  if (typeof error.code === "string" && NOT_MODEL_SPECIFIC.has(error.code)) return false;
  return error.status === 429 || error.status === 502 || error.status === 503 || error.status === 504;
}

export function withFallbacks(
  client: ModelClient,
  fallbackModels: readonly string[],
  onFallback?: (event: { from: string; to: string; reason: string }) => void,
): ModelClient {
  if (fallbackModels.length === 0) return client;

  async function attempt<Result>(
    request: ChatCompletionRequest,
    options: CallOptions | undefined,
    call: (request: ChatCompletionRequest) => Promise<Result>,
  ): Promise<Result> {
    const models = [request.model, ...fallbackModels.filter((model) => model !== request.model)];
    const failures: string[] = [];
    let last: UpstreamError | undefined;
    for (const [position, model] of models.entries()) {
      try {
        return await call({ ...request, model });
      } catch (error) {
        if (!shouldFallBack(error)) throw error;
        last = error;
        failures.push(`${model}: ${error.message}`);
        const next = models[position + 1];
        if (next) {
          const event = { from: model, to: next, reason: error.message };
          onFallback?.(event);
          options?.onFallback?.(event);
        }
      }
    }
    throw new UpstreamError(`Every model failed. ${failures.join(" | ")}`, {
      status: last?.status ?? 502,
      upstreamStatus: last?.upstreamStatus ?? null,
      code: last?.code ?? null,
      type: last?.type ?? "upstream_error",
    });
  }

  return {
    defaultModel: client.defaultModel,
    complete: (request, options?: CallOptions) => attempt(request, options, (each) => client.complete(each, options)),
    openStream: (request, options?: CallOptions) => attempt(request, options, (each) => client.openStream(each, options)),
  };
}
