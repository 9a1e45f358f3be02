// The composition root: the one place that knows which model, which KV namespaces, which ledger
// and which tool registry a request gets. Built once per request (middleware/services) and once per
// queue batch, and handed to every door; nothing else constructs these.

import type { Config } from "./config.js";
import type { ConversationStore } from "./conversations/store.js";
import { createConversationStore } from "./conversations/store.js";
import type { Env } from "./env.js";
import { createMixedSteps } from "./history/mixed-steps.js";
import type { LedgerApi } from "./ledger/claims.js";
import { createClaims } from "./ledger/claims.js";
import { createJournal } from "./ledger/journal.js";
import type { Logger } from "./log.js";
import type { ResponseStore } from "./responses/store.js";
import { createResponseStore } from "./responses/store.js";
import type { TurnServices } from "./run-turn.js";
import { InvocationBudget } from "./tools/invocation-budget.js";
import { createServerToolRegistry } from "./tools/server-tools.js";
import type { ModelClient } from "./upstream/dmxapi-client.js";
import { createDmxapiClient } from "./upstream/dmxapi-client.js";
import { withFallbacks } from "./upstream/fallback.js";
import { createModelPort } from "./upstream/model.js";

export interface Services extends TurnServices {
  /** Service-binding calls left for this request (the platform allows 32 Worker invocations). */
  budget: InvocationBudget;
  claims: LedgerApi;
  log: Logger;
  /** Stored Responses API responses (the /v1/responses door). */
  responses: ResponseStore;
}

export interface ServiceOptions {
  log: Logger;
  waitUntil: (work: Promise<unknown>) => void;
  /** Where this runs (src/ledger/journal.ts placeOf): turns are committed to this location's journal. */
  place: string;
}

export function createServices(env: Env, config: Config, options: ServiceOptions): Services {
  const { log } = options;
  const budget = new InvocationBudget(config.limits.maxToolInvocations);
  // Stored responses and mixed steps are committed where the request's turns are.
  const journal = createJournal(env.LEDGER, options.place);
  return {
    config,
    log,
    budget,
    model: createModelPort(createModelClient(config, log)),
    store: conversationStore(env, config, options.place),
    registry: createServerToolRegistry({ env, config, budget, log }),
    mixedSteps: createMixedSteps(env.CONVERSATIONS, journal),
    claims: createClaims(env.LEDGER),
    responses: createResponseStore(env.CONVERSATIONS, journal, config.conversations.ttlSeconds),
    redact: log.redact,
    defer: (work) =>
      options.waitUntil(work.catch((error: unknown) => log.warn("deferred_work_failed", { message: error instanceof Error ? error.message : String(error) }))),
  };
}

/** Conversations in KV, each turn committed through `place`'s journal (src/ledger/journal.ts). */
export function conversationStore(env: Env, config: Config, place: string): ConversationStore {
  return createConversationStore({ kv: env.CONVERSATIONS, writer: createJournal(env.LEDGER, place), ...config.conversations });
}

function createModelClient(config: Config, log: Logger): ModelClient {
  const client = createDmxapiClient({
    baseUrl: config.dmxapi.baseUrl,
    apiKey: config.dmxapi.apiKey ?? "",
    defaultModel: config.dmxapi.model,
    timeoutMs: config.dmxapi.timeoutMs,
    maxRetries: config.dmxapi.maxRetries,
    maxResponseBytes: config.dmxapi.maxResponseBytes,
    onRetry: (event) => log.warn("upstream_retry", { attempt: event.attempt, delay_ms: event.delayMs, upstream_status: event.status, message: event.message }),
  });
  return withFallbacks(client, config.dmxapi.fallbackModels, (event) => log.warn("upstream_fallback", event));
}
