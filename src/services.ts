// The composition root: the one place that knows which model, which conversation homes, which ledger
// and which tool registry a request gets. Built once per request (middleware/services) and once per
// queue batch, and handed to every door; nothing else constructs these.

import type { Approvals } from "./approvals/approvals.js";
import { createApprovals } from "./approvals/approvals.js";
import type { Config } from "./config.js";
import type { ConversationHomes, HomesOptions } from "./conversations/homes.js";
import { createHomes } from "./conversations/homes.js";
import type { RescueJob } from "./conversations/rescue.js";
import { enqueueRescue } from "./conversations/rescue.js";
import type { Env } from "./env.js";
import type { Keys } from "./keys/keys.js";
import { createKeys } from "./keys/keys.js";
import type { LedgerApi } from "./ledger/claims.js";
import { createClaims } from "./ledger/claims.js";
import type { Logger } from "./log.js";
import type { TurnServices } from "./run-turn.js";
import type { Runs } from "./runs/runs.js";
import { createRuns } from "./runs/runs.js";
import { InvocationBudget } from "./tools/invocation-budget.js";
import { createServerToolRegistry } from "./tools/server-tools.js";
import type { ModelClient } from "./upstream/dmxapi-client.js";
import { createDmxapiClient } from "./upstream/dmxapi-client.js";
import { withFallbacks } from "./upstream/fallback.js";
import { createModelPort } from "./upstream/model.js";

/** How long a turn waits behind a running turn of its conversation before it is refused with a 409. */
export const TURN_QUEUE_WAIT_MS = 30_000;

export interface Services extends TurnServices {
  /** Calls waiting for a person: read, listed, decided. */
  approvals: Approvals;
  /** Client keys made through the admin API, their limits and counters. */
  keys: Keys;
  /** The run engine: turns started in their conversation's home, followed, resumed, cancelled. */
  runs: Runs;
  /** Service-binding calls left for this request (the platform allows 32 Worker invocations). */
  budget: InvocationBudget;
  claims: LedgerApi;
  log: Logger;
}

export interface ServiceOptions {
  log: Logger;
  waitUntil: (work: Promise<unknown>) => void;
  /** Built inside a conversation's home (for a run it hosts): that home is reached directly. */
  self?: HomesOptions["self"];
}

export function createServices(env: Env, config: Config, options: ServiceOptions): Services {
  const { log } = options;
  const budget = new InvocationBudget(config.limits.maxToolInvocations);
  const homes = conversationHomes(env, config, options.self);
  return {
    config,
    log,
    budget,
    model: createModelPort(createModelClient(config, log)),
    homes,
    runs: createRuns(env),
    approvals: createApprovals(env),
    keys: createKeys(env),
    registry: createServerToolRegistry({ env, config, budget, log }),
    rescue: (tenant, conversationId, turn, products) =>
      enqueueRescue(env.CONVERSATIONS, env.WEBHOOK_QUEUE as Queue<RescueJob>, tenant, conversationId, turn, products),
    claims: createClaims(env.LEDGER),
    redact: log.redact,
    defer: (work) =>
      options.waitUntil(work.catch((error: unknown) => log.warn("deferred_work_failed", { message: error instanceof Error ? error.message : String(error) }))),
  };
}

export function conversationHomes(env: Env, config: Config, self?: HomesOptions["self"]): ConversationHomes {
  return createHomes(env, { ...config.conversations, waitMs: Math.min(TURN_QUEUE_WAIT_MS, config.limits.turnDeadlineMs), ...(self ? { self } : {}) });
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
