// Builds what a turn needs from the Worker's env. The one place that knows which model client,
// which KV namespace and which registry a request gets.

import type { Config } from "./config.js";
import { createConversationStore } from "./conversations/store.js";
import type { Env } from "./env.js";
import type { Logger } from "./log.js";
import type { TurnDependencies } from "./run-turn.js";
import { InvocationBudget } from "./tools/invocation-budget.js";
import { createToolRegistry, DISCOVERY_TIMEOUT_MS } from "./tools/registry.js";
import type { ModelClient } from "./upstream/dmxapi-client.js";
import { createDmxapiClient } from "./upstream/dmxapi-client.js";
import { withFallbacks } from "./upstream/fallback.js";

export function createModelClient(config: Config, log?: Logger): ModelClient {
  const client = createDmxapiClient({
    baseUrl: config.dmxapi.baseUrl,
    apiKey: config.dmxapi.apiKey ?? "",
    defaultModel: config.dmxapi.model,
    timeoutMs: config.dmxapi.timeoutMs,
    maxRetries: config.dmxapi.maxRetries,
    onRetry: (event) => log?.warn("upstream_retry", { attempt: event.attempt, delay_ms: event.delayMs, upstream_status: event.status, message: event.message }),
  });
  return withFallbacks(client, config.dmxapi.fallbackModels, (event) => log?.warn("upstream_fallback", event));
}

export function createTurnDependencies(
  env: Env,
  config: Config,
  defer: (work: Promise<unknown>) => void,
  log?: Logger,
  model: ModelClient = createModelClient(config, log),
): TurnDependencies & { model: ModelClient; budget: InvocationBudget } {
  const budget = new InvocationBudget(config.limits.maxToolInvocations);
  return {
    config,
    model,
    budget,
    store: createConversationStore({ kv: env.CONVERSATIONS, ...config.conversations }),
    registry: createToolRegistry({ env, cacheTtlMs: config.toolSchemaTtlMs, discoveryTimeoutMs: DISCOVERY_TIMEOUT_MS, budget }),
    callModel: (request, _step, signal) => model.complete(request, signal ? { signal } : {}),
    defer,
  };
}
