// Builds what a turn needs from the Worker's env. The one place that knows which model client,
// which KV namespace and which registry a request gets.

import type { Config } from "./config.js";
import { createConversationStore } from "./conversations/store.js";
import type { Env } from "./env.js";
import { createMixedSteps } from "./history/mixed-steps.js";
import type { LedgerApi } from "./ledger/claims.js";
import { createClaims } from "./ledger/claims.js";
import type { Logger } from "./log.js";
import type { TurnDependencies } from "./run-turn.js";
import { InvocationBudget } from "./tools/invocation-budget.js";
import { createServerToolRegistry } from "./tools/server-tools.js";
import type { ModelClient } from "./upstream/dmxapi-client.js";
import { createDmxapiClient } from "./upstream/dmxapi-client.js";
import { withFallbacks } from "./upstream/fallback.js";
import { offlineModelFetch } from "./upstream/offline-model.js";

export function createModelClient(config: Config, log?: Logger): ModelClient {
  if (config.offline) {
    return createDmxapiClient({
      baseUrl: "https://offline-model.switchboard.invalid/v1",
      apiKey: "offline",
      defaultModel: config.dmxapi.model,
      timeoutMs: config.dmxapi.timeoutMs,
      maxRetries: 0,
      fetch: offlineModelFetch,
    });
  }
  const client = createDmxapiClient({
    baseUrl: config.dmxapi.baseUrl,
    apiKey: config.dmxapi.apiKey ?? "",
    defaultModel: config.dmxapi.model,
    timeoutMs: config.dmxapi.timeoutMs,
    maxRetries: config.dmxapi.maxRetries,
    maxResponseBytes: config.dmxapi.maxResponseBytes,
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
): TurnDependencies & { model: ModelClient; budget: InvocationBudget; claims: LedgerApi } {
  const budget = new InvocationBudget(config.limits.maxToolInvocations);
  return {
    config,
    model,
    budget,
    claims: createClaims(env.LEDGER),
    mixedSteps: createMixedSteps(env.CONVERSATIONS),
    store: createConversationStore({ kv: env.CONVERSATIONS, ...config.conversations }),
    registry: createServerToolRegistry({ env, config, budget, ...(log ? { log } : {}) }),
    callModel: (request, _step, signal) => model.complete(request, signal ? { signal } : {}),
    defer,
  };
}
