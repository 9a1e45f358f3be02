// The queue consumer: runs the turn of an accepted webhook event, stores it, and delivers the answer
// to the hook's callback URL. Failures are retried by the queue with backoff; what still fails after
// the last retry lands in the dead-letter queue, and its consumer keeps an inspectable record.

import { readConfig } from "../config.js";
import { createConversationStore } from "../conversations/store.js";
import { createTurnDependencies } from "../dependencies.js";
import { type Env, namedVariable } from "../env.js";
import { createLogger, type Logger } from "../log.js";
import type { ChatMessage } from "../protocol/types.js";
import { runTurn } from "../run-turn.js";
import { sha256, toHex } from "../security/api-keys.js";
import type { DeliveryRecord, WebhookJob } from "./deliveries.js";
import { DELIVERY_TTL_SECONDS, deadLetterKey, readDelivery, withinMetadataLimit, writeDelivery } from "./deliveries.js";
import { hooks } from "./hooks.js";
import { renderTemplate } from "./template.js";
import type { HookConfig } from "./types.js";
import { signStandardWebhook } from "./verify.js";

const MAX_BACKOFF_SECONDS = 3_600;
const CALLBACK_TIMEOUT_MS = 10_000;

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

function backoffSeconds(env: Env, attempts: number): number {
  const base = Number(env.WEBHOOK_RETRY_BASE_SECONDS ?? "10");
  const seconds = (Number.isFinite(base) && base >= 0 ? base : 10) * 2 ** Math.max(0, attempts - 1);
  return Math.min(MAX_BACKOFF_SECONDS, Math.round(seconds));
}

export async function handleWebhookBatch(batch: MessageBatch<WebhookJob>, env: Env, ctx: ExecutionContext): Promise<void> {
  const config = readConfig(env);
  const log = createLogger({ queue: batch.queue }, config.secrets);
  const deadLetters = batch.queue.endsWith("-dlq");
  for (const message of batch.messages) {
    const job = message.body;
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
      if (job.kind === "turn") await runWebhookTurn(env, ctx, hook, job, jobLog);
      else await deliverCallback(env, hook, job, jobLog);
      message.ack();
    } catch (error) {
      const reason = jobLog.redact(error instanceof Error ? error.message : String(error));
      await noteFailure(env, hook, job, message.attempts, reason).catch(() => undefined);
      const delaySeconds = backoffSeconds(env, message.attempts);
      jobLog.warn("webhook_retry", { delay_seconds: delaySeconds, message: reason });
      message.retry({ delaySeconds });
    }
  }
}

async function runWebhookTurn(env: Env, ctx: ExecutionContext, hook: HookConfig, job: Extract<WebhookJob, { kind: "turn" }>, log: Logger): Promise<void> {
  const kv = env.CONVERSATIONS;
  const record = (await readDelivery(kv, hook.name, job.delivery_id)) ?? newRecord(hook, job);
  if (record.state === "done") {
    log.info("webhook_already_done");
    return;
  }
  const turnId = `turn_wh_${toHex(await sha256(`${hook.name}:${job.delivery_id}`), 12)}`;
  const config = readConfig(env);
  const store = createConversationStore({ kv, ...config.conversations });
  // The turn may have been stored by an attempt that failed afterwards: do not run it again.
  const stored = (await store.load(hook.tenant, job.conversation_id))?.turns.find((turn) => turn.id === turnId);
  let answer: string | null;
  if (stored) {
    answer = lastAnswer(stored.messages);
  } else {
    const payload = job.payload ?? (job.payload_key ? await kv.get(job.payload_key, "json") : null);
    if (payload === null || payload === undefined) throw new Error("The event's payload is not readable yet.");
    const dependencies = createTurnDependencies(env, config, (work) => ctx.waitUntil(work.catch(() => undefined)), log);
    const input: ChatMessage[] = [];
    if (hook.system) input.push({ role: "system", content: renderTemplate(hook.system, payload) });
    input.push({ role: "user", content: renderTemplate(hook.message, payload) });
    const completed = await runTurn(dependencies, {
      tenant: hook.tenant,
      conversationId: job.conversation_id,
      requestId: `wh_${job.delivery_id}`.slice(0, 128),
      input,
      parameters: { model: hook.model ?? dependencies.model.defaultModel },
      clientTools: [],
      allowedTools: hook.tools,
      turnId,
      signal: AbortSignal.timeout(config.limits.turnDeadlineMs),
    });
    answer = lastAnswer(completed.messages);
    log.info("webhook_turn", { steps: completed.steps, total_tokens: completed.usage?.total_tokens ?? null });
  }
  const callbackConfigured = Boolean(hook.callback && callbackUrl(env, hook));
  await writeDelivery(kv, {
    ...record,
    state: "done",
    attempts: record.attempts + 1,
    answer,
    completed_at: Date.now(),
    ...(callbackConfigured ? { callback: { state: "pending", attempts: 0 } } : {}),
  });
  if (callbackConfigured)
    await env.WEBHOOK_QUEUE.send({ kind: "callback", hook: hook.name, delivery_id: job.delivery_id, conversation_id: job.conversation_id });
}

function lastAnswer(messages: ChatMessage[]): string | null {
  const last = [...messages].reverse().find((message) => message.role === "assistant");
  return typeof last?.content === "string" ? last.content : null;
}

function newRecord(hook: HookConfig, job: WebhookJob): DeliveryRecord {
  return { hook: hook.name, delivery_id: job.delivery_id, conversation_id: job.conversation_id, received_at: Date.now(), state: "queued", attempts: 0 };
}

function callbackUrl(env: Env, hook: HookConfig): string | null {
  return hook.callback ? namedVariable(env, hook.callback.url_env) : null;
}

/** POSTs the answer, signed with Standard Webhooks; the message id stays the same across retries. */
async function deliverCallback(env: Env, hook: HookConfig, job: WebhookJob, log: Logger): Promise<void> {
  const url = callbackUrl(env, hook);
  const secret = hook.callback ? namedVariable(env, hook.callback.secret_env) : null;
  if (!url || !secret) throw new Error(`Callback of hook ${hook.name} is not configured (${hook.callback?.url_env}, ${hook.callback?.secret_env}).`);
  const record = await readDelivery(env.CONVERSATIONS, hook.name, job.delivery_id);
  if (record?.state !== "done") throw new Error("The delivery's answer is not readable yet.");
  if (record.callback?.state === "delivered") return;
  const id = `msg_${toHex(await sha256(`callback:${hook.name}:${job.delivery_id}`), 12)}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({
    type: "switchboard.turn.completed",
    timestamp: new Date(timestamp * 1000).toISOString(),
    // The callback leaves the orchestrator: an answer that echoes a configured secret is redacted.
    data: { hook: hook.name, delivery_id: job.delivery_id, conversation_id: job.conversation_id, answer: record.answer ? log.redact(record.answer) : null },
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
  await writeDelivery(env.CONVERSATIONS, { ...record, callback: { state: "delivered", attempts: (record.callback?.attempts ?? 0) + 1 } });
  log.info("webhook_callback_delivered", { status: response.status });
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
