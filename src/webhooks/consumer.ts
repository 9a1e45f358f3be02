// The queue consumer: starts the run of an accepted webhook event in its conversation's home, waits
// for its answer, and delivers it to the hook's callback URL. The run belongs to the home: a consumer
// that dies leaves it running, and the redelivered job finds the same run (its id is the delivery's)
// rather than running the turn again. Failures are retried by the queue with backoff; what still fails
// after the last retry lands in the dead-letter queue, and its consumer keeps an inspectable record.

import { readConfig, tenantLimitsOf } from "../config.js";
import type { RescueJob } from "../conversations/rescue.js";
import { commitRescued } from "../conversations/rescue.js";
import { type Env, namedVariable } from "../env.js";
import { runToEnd } from "../http/run-stream.js";
import { tenantMeter } from "../keys/keys.js";
import type { LedgerApi } from "../ledger/claims.js";
import { claimKey, parseResult } from "../ledger/claims.js";
import { sha256Hex } from "../lib/hash.js";
import { createLogger, type Logger } from "../log.js";
import type { ChatMessage } from "../protocol/types.js";
import type { Meter } from "../run-turn.js";
import type { RunSpec } from "../runs/types.js";
import type { Services } from "../services.js";
import { createServices } from "../services.js";
import type { DeliveryRecord, WebhookJob } from "./deliveries.js";
import { DELIVERY_TTL_SECONDS, deadLetterKey, jobQueue, readDelivery, webhookRunId, withinMetadataLimit, writeDelivery } from "./deliveries.js";
import { hooks } from "./hooks.js";
import { renderTemplate } from "./template.js";
import type { HookConfig } from "./types.js";
import { signStandardWebhook } from "./verify.js";

const MAX_BACKOFF_SECONDS = 3_600;
const CALLBACK_TIMEOUT_MS = 10_000;
/** Claims outlive the work they guard by this much before another consumer may take them over. */
const TURN_LEASE_MARGIN_MS = 30_000;
const CALLBACK_LEASE_MARGIN_MS = 20_000;

export interface DeadLetter {
  kind: WebhookJob["kind"];
  hook: string;
  tenant: string;
  delivery_id: string;
  conversation_id: string;
  attempts: number;
  last_error: string | null;
  failed_at: number;
}

function backoffSeconds(baseSeconds: number, attempts: number): number {
  return Math.min(MAX_BACKOFF_SECONDS, Math.round(baseSeconds * 2 ** Math.max(0, attempts - 1)));
}

export async function handleWebhookBatch(batch: MessageBatch<WebhookJob | RescueJob>, env: Env, ctx: ExecutionContext): Promise<void> {
  const config = readConfig(env);
  const log = createLogger({ queue: batch.queue }, config.secrets);
  const services = createServices(env, config, { log, waitUntil: (work) => ctx.waitUntil(work) });
  const deadLetters = batch.queue.endsWith("-dlq");
  for (const message of batch.messages) {
    const job = message.body;
    if (job.kind === "rescue") {
      await rescue(env, services, job, message, deadLetters, config.webhookRetryBaseSeconds);
      continue;
    }
    const hook = hooks.get(job.hook);
    const jobLog = log.with({ hook: job.hook, delivery_id: job.delivery_id, conversation_id: job.conversation_id, kind: job.kind, attempt: message.attempts });
    if (!hook) {
      jobLog.error("webhook_unknown_hook");
      message.ack();
      continue;
    }
    if (deadLetters) {
      await recordDeadLetter(env, hook, job, message.attempts);
      jobLog.error("webhook_dead_letter");
      message.ack();
      continue;
    }
    try {
      if (job.kind === "turn") await runWebhookTurn(env, { ...services, log: jobLog }, hook, job);
      else if (job.kind === "continued") await recordAnswer(env, hook, job, job.answer, job.run_id);
      else await deliverCallback(env, services.claims, hook, job, jobLog);
      message.ack();
    } catch (error) {
      if (error instanceof TenantLimited) {
        // Waiting for its tenant's limit is not a failure: sent again with the delay, its retries untouched.
        jobLog.info("webhook_tenant_limited", { delay_seconds: error.retryAfterSeconds });
        await jobQueue(env).send(job, { delaySeconds: Math.min(MAX_BACKOFF_SECONDS, error.retryAfterSeconds) });
        message.ack();
        continue;
      }
      if (error instanceof ClaimedElsewhere) {
        // Not a failure: the other consumer finishes it, and this copy then finds it done.
        jobLog.info("webhook_claimed_elsewhere", { delay_seconds: error.retryAfterSeconds });
        message.retry({ delaySeconds: Math.min(MAX_BACKOFF_SECONDS, error.retryAfterSeconds) });
        continue;
      }
      const reason = jobLog.redact(error instanceof Error ? error.message : String(error));
      await noteFailure(env, hook, job, message.attempts, reason).catch(() => undefined);
      const delaySeconds = backoffSeconds(config.webhookRetryBaseSeconds, message.attempts);
      jobLog.warn("webhook_retry", { delay_seconds: delaySeconds, message: reason });
      message.retry({ delaySeconds });
    }
  }
}

/** A streamed turn the client saw that its home could not take at the time: committed now, or retried. */
async function rescue(env: Env, services: Services, job: RescueJob, message: Message<unknown>, deadLetters: boolean, baseSeconds: number): Promise<void> {
  const log = services.log.with({ conversation_id: job.conversation_id, turn_id: job.turn_id, kind: job.kind, attempt: message.attempts });
  if (deadLetters) {
    // Its payload stays in KV (7 days) for an operator to look at.
    log.error("turn_rescue_dead_letter", { payload_key: job.payload_key });
    message.ack();
    return;
  }
  try {
    await commitRescued(env.CONVERSATIONS, services.homes, job);
    log.info("turn_rescued");
    message.ack();
  } catch (error) {
    const delaySeconds = backoffSeconds(baseSeconds, message.attempts);
    log.warn("turn_rescue_retry", { delay_seconds: delaySeconds, message: error instanceof Error ? error.message : String(error) });
    message.retry({ delaySeconds });
  }
}

/** The hook's tenant is at one of its limits (TENANT_LIMITS): the event waits, as a client's request would be told to. */
class TenantLimited extends Error {
  constructor(
    readonly retryAfterSeconds: number,
    message: string,
  ) {
    super(message);
    this.name = "TenantLimited";
  }
}

/** The queue may hand the same job to two consumers at once: the one that holds the claim runs it. */
class ClaimedElsewhere extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super("Another consumer is running this job; trying again later.");
    this.name = "ClaimedElsewhere";
  }
}

async function runWebhookTurn(env: Env, services: Services, hook: HookConfig, job: Extract<WebhookJob, { kind: "turn" }>): Promise<void> {
  const kv = env.CONVERSATIONS;
  const { config, claims, log } = services;
  const turnId = await webhookRunId(hook.name, job.delivery_id);
  const claim = claimKey("webhook-turn", turnId);
  // The lease outlives the turn's deadline: a live turn never loses its claim to a redelivery.
  const outcome = await claims.claim(claim, "", { leaseMs: config.limits.turnDeadlineMs + TURN_LEASE_MARGIN_MS });
  if (outcome.status === "running") throw new ClaimedElsewhere(Math.ceil(outcome.retryAfterMs / 1000));
  let answer: TurnAnswer;
  if (outcome.status === "done") {
    // Ran and stored by an earlier attempt that failed afterwards: only what follows the turn is redone.
    const settled = parseResult<{ answer: string | null; approvals?: string[] }>(outcome);
    answer = settled?.approvals ? { kind: "parked", approvals: settled.approvals } : { kind: "answered", text: settled?.answer ?? null };
    log.info("webhook_turn_already_done");
  } else if (outcome.status === "claimed") {
    try {
      answer = await runClaimedTurn(env, services, hook, job, turnId);
    } catch (error) {
      await claims.release(claim, outcome.token).catch(() => undefined);
      throw error;
    }
    const settled = answer.kind === "parked" ? { answer: null, approvals: answer.approvals } : { answer: answer.text };
    await claims.settle(claim, outcome.token, JSON.stringify(settled), DELIVERY_TTL_SECONDS * 1000);
  } else {
    throw new ClaimedElsewhere(1);
  }
  if (answer.kind === "parked") {
    // The turn waits for a person: the decision continues it, and its continuation's answer comes back here as a `continued` job.
    const record = (await readDelivery(kv, hook.name, job.delivery_id)) ?? newRecord(hook, job);
    // A decision may have come, and the continuation answered, before this (slow or redelivered) job got here.
    if (record.state === "done") return;
    await writeDelivery(kv, { ...record, run_id: turnId, state: "awaiting_approval", attempts: record.attempts + 1, approvals: answer.approvals });
    log.info("webhook_turn_awaiting_approval", { approvals: answer.approvals.length });
    return;
  }
  await recordAnswer(env, hook, job, answer.text, turnId);
}

/** The turn answered: the delivery records it, and the hook's callback (if any) is sent from the queue. */
async function recordAnswer(env: Env, hook: HookConfig, job: WebhookJob, answer: string | null, runId: string): Promise<void> {
  const kv = env.CONVERSATIONS;
  const record = (await readDelivery(kv, hook.name, job.delivery_id)) ?? newRecord(hook, job);
  const callbackConfigured = Boolean(hook.callback && callbackUrl(env, hook));
  const { approvals: _decided, ...rest } = record;
  await writeDelivery(kv, {
    ...rest,
    run_id: runId,
    state: "done",
    attempts: record.attempts + 1,
    answer,
    completed_at: Date.now(),
    ...(callbackConfigured ? { callback: record.callback ?? { state: "pending", attempts: 0 } } : {}),
  });
  if (callbackConfigured) await jobQueue(env).send({ kind: "callback", hook: hook.name, delivery_id: job.delivery_id, conversation_id: job.conversation_id });
}

async function runClaimedTurn(env: Env, services: Services, hook: HookConfig, job: Extract<WebhookJob, { kind: "turn" }>, turnId: string): Promise<TurnAnswer> {
  const payload = job.payload ?? (job.payload_key ? await env.CONVERSATIONS.get(job.payload_key, "json") : null);
  if (payload === null || payload === undefined) throw new Error("The event's payload is not readable yet.");
  const input: ChatMessage[] = [];
  if (hook.system) input.push({ role: "system", content: renderTemplate(hook.system, payload) });
  input.push({ role: "user", content: renderTemplate(hook.message, payload) });
  const meters = await tenantMeters(services, hook.tenant);
  const spec: RunSpec = {
    id: turnId,
    background: false,
    createdAt: Date.now(),
    door: { kind: "chat", stream: false, includeUsage: false },
    notify: { kind: "webhook", hook: hook.name, delivery_id: job.delivery_id, conversation_id: job.conversation_id },
    turn: {
      tenant: hook.tenant,
      conversationId: job.conversation_id,
      requestId: `wh_${job.delivery_id}`.slice(0, 128),
      input,
      parameters: { model: hook.model ?? services.model.defaultModel },
      clientTools: [],
      ...(hook.tools ? { allowedTools: hook.tools } : {}),
      turnId,
      // A keyed hook sends its system prompt with every event: the conversation keeps it once (the
      // same prompt again is recognised; a changed one applies to this turn), as for chat clients.
      reconcile: true,
      deadlineMs: services.config.limits.turnDeadlineMs,
      ...(meters.length > 0 ? { meters } : {}),
    },
  };
  const end = await runToEnd(await services.runs.start(spec));
  if (end.type !== "completed") throw new Error("The webhook's run was cancelled.");
  services.log.info("webhook_turn", { run_id: turnId, steps: end.result.steps, total_tokens: end.result.usage?.total_tokens ?? null });
  if (end.result.approvals) return { kind: "parked", approvals: end.result.approvals.map((approval) => approval.id) };
  const content = end.result.completion.choices[0]?.message.content;
  return { kind: "answered", text: typeof content === "string" ? content : null };
}

/**
 * A hook's turns count against its tenant's limits (TENANT_LIMITS), as its keys' requests do: a
 * request and a concurrency slot (given back when the run ends), and its model calls' budgets.
 */
async function tenantMeters(services: Services, tenant: string): Promise<Meter[]> {
  const limits = tenantLimitsOf(services.config, tenant);
  if (!limits) return [];
  const auth = await services.keys.authorizeTenant({ tenant, limits }, { turn: true, slotMs: services.config.limits.turnDeadlineMs + 30_000 });
  if (auth.status === "limited") throw new TenantLimited(Math.max(1, Math.ceil(auth.retryAfterMs / 1000)), auth.message);
  if (auth.status !== "ok") throw new Error("The tenant's limits could not be checked.");
  return [{ name: tenantMeter(tenant), tenant: { tenant, limits }, ...(auth.slot ? { slot: auth.slot } : {}) }];
}

/** How a webhook's run ended: an answer for the callback, or a wait for a person. */
type TurnAnswer = { kind: "answered"; text: string | null } | { kind: "parked"; approvals: string[] };

function newRecord(hook: HookConfig, job: WebhookJob): DeliveryRecord {
  return { hook: hook.name, delivery_id: job.delivery_id, conversation_id: job.conversation_id, received_at: Date.now(), state: "queued", attempts: 0 };
}

function callbackUrl(env: Env, hook: HookConfig): string | null {
  return hook.callback ? namedVariable(env, hook.callback.url_env) : null;
}

/**
 * POSTs the answer, signed with Standard Webhooks; the message id stays the same across retries.
 * Claimed in the ledger, so one successful turn sends one callback even when the queue delivers
 * the callback job twice at once.
 */
async function deliverCallback(env: Env, claims: LedgerApi, hook: HookConfig, job: WebhookJob, log: Logger): Promise<void> {
  const url = callbackUrl(env, hook);
  const secret = hook.callback ? namedVariable(env, hook.callback.secret_env) : null;
  if (!url || !secret) throw new Error(`Callback of hook ${hook.name} is not configured (${hook.callback?.url_env}, ${hook.callback?.secret_env}).`);
  const record = await readDelivery(env.CONVERSATIONS, hook.name, job.delivery_id);
  if (record?.state !== "done") throw new Error("The delivery's answer is not readable yet.");
  const claim = claimKey("webhook-callback", hook.name, job.delivery_id);
  const outcome = await claims.claim(claim, "", { leaseMs: CALLBACK_TIMEOUT_MS + CALLBACK_LEASE_MARGIN_MS });
  if (outcome.status === "done") {
    log.info("webhook_callback_already_delivered");
    return;
  }
  if (outcome.status !== "claimed") throw new ClaimedElsewhere(outcome.status === "running" ? Math.ceil(outcome.retryAfterMs / 1000) : 1);
  let status: number;
  try {
    // The callback leaves the orchestrator: an answer that echoes a configured secret is redacted.
    status = await postCallback(url, secret, hook, job, record.answer ? log.redact(record.answer) : null);
  } catch (error) {
    await claims.release(claim, outcome.token).catch(() => undefined);
    throw error;
  }
  await claims.settle(claim, outcome.token, JSON.stringify({ status }), DELIVERY_TTL_SECONDS * 1000);
  await writeDelivery(env.CONVERSATIONS, { ...record, callback: { state: "delivered", attempts: (record.callback?.attempts ?? 0) + 1 } });
  log.info("webhook_callback_delivered", { status });
}

async function postCallback(url: string, secret: string, hook: HookConfig, job: WebhookJob, answer: string | null): Promise<number> {
  const id = `msg_${await sha256Hex(`callback:${hook.name}:${job.delivery_id}`, 12)}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({
    type: "switchboard.turn.completed",
    timestamp: new Date(timestamp * 1000).toISOString(),
    data: { hook: hook.name, delivery_id: job.delivery_id, conversation_id: job.conversation_id, answer },
  });
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": await signStandardWebhook(id, timestamp, body, secret),
    },
    body,
    signal: AbortSignal.timeout(CALLBACK_TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`Callback answered ${response.status}.`);
  return response.status;
}

async function noteFailure(env: Env, hook: HookConfig, job: WebhookJob, attempts: number, reason: string): Promise<void> {
  const record = (await readDelivery(env.CONVERSATIONS, hook.name, job.delivery_id)) ?? newRecord(hook, job);
  if (job.kind === "turn") {
    await writeDelivery(env.CONVERSATIONS, { ...record, state: "retrying", attempts, last_error: reason });
  } else {
    await writeDelivery(env.CONVERSATIONS, { ...record, callback: { state: "pending", attempts, last_error: reason } });
  }
}

async function recordDeadLetter(env: Env, hook: HookConfig, job: WebhookJob, attempts: number): Promise<void> {
  const record = await readDelivery(env.CONVERSATIONS, hook.name, job.delivery_id);
  const lastError = job.kind === "turn" ? (record?.last_error ?? null) : (record?.callback?.last_error ?? null);
  const letter: DeadLetter = {
    kind: job.kind,
    hook: hook.name,
    tenant: hook.tenant,
    delivery_id: job.delivery_id,
    conversation_id: job.conversation_id,
    attempts: Math.max(attempts, job.kind === "turn" ? (record?.attempts ?? 0) : (record?.callback?.attempts ?? 0)),
    last_error: lastError,
    failed_at: Date.now(),
  };
  // The whole letter rides in the metadata too, so listing them is a single KV list.
  await env.CONVERSATIONS.put(await deadLetterKey(hook.name, job.delivery_id, job.kind), JSON.stringify(letter), {
    expirationTtl: DELIVERY_TTL_SECONDS,
    metadata: withinMetadataLimit(letter),
  });
  if (record) {
    await writeDelivery(
      env.CONVERSATIONS,
      job.kind === "turn"
        ? { ...record, state: "dead" }
        : { ...record, callback: { state: "dead", attempts: letter.attempts, ...(lastError ? { last_error: lastError } : {}) } },
    );
  }
}
