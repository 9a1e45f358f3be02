// POST /v1/chat/completions: the OpenAI-compatible door to the tool loop.

import type { Context } from "hono";
import { Hono } from "hono";
import { createTurnDependencies } from "../dependencies.js";
import { ApiError, invalidRequest } from "../errors.js";
import type { IdempotencyCheck } from "../idempotency.js";
import { abandonIdempotency, checkIdempotency, completeIdempotency, isValidIdempotencyKey } from "../idempotency.js";
import type { LoopHooks } from "../loop/tool-loop.js";
import { randomToken } from "../protocol/normalize.js";
import type { ChatRequest } from "../protocol/request-schema.js";
import { chatRequestSchema, describeIssue } from "../protocol/request-schema.js";
import type { ChatCompletion, ChatMessage, FunctionToolDefinition, JsonObject } from "../protocol/types.js";
import type { TurnRequest } from "../run-turn.js";
import { runTurn } from "../run-turn.js";
import type { AppEnv } from "../types.js";
import { replayAsStream, streamTurn } from "./chat-completions-stream.js";

export const CONVERSATION_HEADER = "X-Conversation-Id";

/** Fields that steer the orchestrator; everything else in the body is forwarded to the model. */
const OWN_FIELDS = new Set(["conversation_id", "messages", "tools", "stream", "stream_options", "model", "server_tools"]);

export const chatCompletions = new Hono<AppEnv>();

chatCompletions.post("/chat/completions", async (c) => {
  const { request, text } = await readChatRequest(c);
  const config = c.get("config");
  if (!config.dmxapi.apiKey) {
    throw new ApiError(503, "The orchestrator has no DMXAPI_API_KEY configured.", { type: "server_error", code: "upstream_not_configured" });
  }
  const idempotency = await checkIdempotencyKey(c, text);
  if (idempotency?.kind === "replay") {
    const { record } = idempotency;
    c.header(CONVERSATION_HEADER, record.conversation_id);
    c.header("Idempotent-Replayed", "true");
    if (record.stream) return replayAsStream(record.response as ChatCompletion & { conversation_id: string }, record.include_usage, c.res.headers);
    return c.json(record.response as JsonObject);
  }

  const { conversationId, generated } = resolveConversationId(c, request);
  const log = c.get("log").with({ tenant: c.get("tenant"), conversation_id: conversationId });
  const dependencies = createTurnDependencies(c.env, config, (work) => c.executionCtx.waitUntil(work.catch(() => undefined)), log);
  const deadline = AbortSignal.timeout(config.limits.turnDeadlineMs);
  const turnRequest: TurnRequest = {
    tenant: c.get("tenant"),
    conversationId,
    requestId: c.get("requestId"),
    input: request.messages as ChatMessage[],
    parameters: forwardedParameters(request, dependencies.model.defaultModel),
    clientTools: (request.tools ?? []) as FunctionToolDefinition[],
    ...(request.server_tools ? { allowedTools: request.server_tools } : {}),
    signal: deadline,
    // An id we just generated cannot have history: skip the KV list.
    newConversation: generated,
  };
  const hooks: LoopHooks = {
    onToolResult: (event) =>
      log.info("tool_call", {
        step: event.step,
        tool: event.call.call.function.name,
        tool_call_id: event.call.call.id,
        duration_ms: event.durationMs,
        ok: event.outcome.ok,
        ...(event.outcome.ok ? {} : { error_type: event.outcome.type }),
      }),
  };
  c.header(CONVERSATION_HEADER, conversationId);
  const includeUsage = request.stream_options?.include_usage === true;

  try {
    if (request.stream === true) {
      return await streamTurn(c, dependencies, turnRequest, includeUsage, {
        hooks,
        deadlineMs: config.limits.turnDeadlineMs,
        onComplete: (completion) => rememberIdempotent(c, idempotency, { stream: true, includeUsage, completion, conversationId }),
        onFailure: () => forgetIdempotent(c, idempotency),
      });
    }
    const completed = await runTurn(dependencies, turnRequest, { hooks });
    log.info("turn", { steps: completed.steps, tool_invocations: dependencies.budget.spent, total_tokens: completed.usage?.total_tokens ?? null });
    const body = { ...completed.completion, conversation_id: conversationId };
    rememberIdempotent(c, idempotency, { stream: false, includeUsage, completion: body, conversationId });
    return c.json(body);
  } catch (error) {
    forgetIdempotent(c, idempotency);
    if (deadline.aborted) {
      throw new ApiError(504, `The turn did not finish within ${config.limits.turnDeadlineMs} ms; nothing was stored.`, {
        type: "timeout_error",
        code: "turn_deadline_exceeded",
      });
    }
    throw error;
  }
});

async function checkIdempotencyKey(c: Context<AppEnv>, body: string): Promise<IdempotencyCheck | null> {
  const key = c.req.header("Idempotency-Key");
  if (key === undefined) return null;
  if (!isValidIdempotencyKey(key)) throw invalidRequest("Idempotency-Key must be 1-255 visible ASCII characters.", "Idempotency-Key");
  const check = await checkIdempotency(c.env.CONVERSATIONS, c.get("tenant"), key, body, c.get("config").idempotencyTtlSeconds);
  if (check.kind === "mismatch") {
    throw new ApiError(422, "This Idempotency-Key was used with a different request body.", { type: "invalid_request_error", code: "idempotency_key_reused" });
  }
  if (check.kind === "in_progress") {
    throw new ApiError(409, "A request with this Idempotency-Key is still running; retry when it has finished.", { code: "idempotency_key_in_use" });
  }
  return check;
}

function rememberIdempotent(
  c: Context<AppEnv>,
  check: IdempotencyCheck | null,
  result: { stream: boolean; includeUsage: boolean; completion: unknown; conversationId: string },
): void {
  if (check?.kind !== "new") return;
  const record = {
    state: "done" as const,
    body_hash: check.bodyHash,
    stream: result.stream,
    include_usage: result.includeUsage,
    status: 200,
    response: result.completion,
    conversation_id: result.conversationId,
  };
  c.executionCtx.waitUntil(completeIdempotency(c.env.CONVERSATIONS, check.key, record, c.get("config").idempotencyTtlSeconds).catch(() => undefined));
}

function forgetIdempotent(c: Context<AppEnv>, check: IdempotencyCheck | null): void {
  if (check?.kind !== "new") return;
  c.executionCtx.waitUntil(abandonIdempotency(c.env.CONVERSATIONS, check.key).catch(() => undefined));
}

async function readChatRequest(c: Context<AppEnv>): Promise<{ request: ChatRequest; text: string }> {
  const text = await c.req.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalidRequest("The request body is not valid JSON.", null, "invalid_json");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalidRequest("The request body must be a JSON object.", null, "invalid_json");
  }
  const parsed = chatRequestSchema.safeParse(body);
  if (!parsed.success) {
    const { message, param } = describeIssue(parsed.error);
    throw invalidRequest(message, param, "invalid_value");
  }
  const maxMessages = c.get("config").limits.maxMessages;
  if (parsed.data.messages.length > maxMessages) {
    throw invalidRequest(`At most ${maxMessages} messages are accepted in one request.`, "messages", "too_many_messages");
  }
  return { request: parsed.data, text };
}

function resolveConversationId(c: Context<AppEnv>, request: ChatRequest): { conversationId: string; generated: boolean } {
  const fromHeader = c.req.header(CONVERSATION_HEADER)?.trim();
  if (fromHeader && request.conversation_id && fromHeader !== request.conversation_id) {
    throw invalidRequest(`The ${CONVERSATION_HEADER} header and conversation_id name different conversations.`, "conversation_id");
  }
  const chosen = request.conversation_id ?? fromHeader;
  if (chosen === undefined || chosen === "") return { conversationId: `conv_${randomToken(24)}`, generated: true };
  const valid = chatRequestSchema.shape.conversation_id.safeParse(chosen);
  if (!valid.success) throw invalidRequest(describeIssue(valid.error).message.replace("''", "'conversation_id'"), "conversation_id");
  return { conversationId: chosen, generated: false };
}

function forwardedParameters(request: ChatRequest, defaultModel: string): JsonObject & { model: string } {
  const parameters: JsonObject = {};
  for (const [key, value] of Object.entries(request)) if (!OWN_FIELDS.has(key)) parameters[key] = value;
  return { ...parameters, model: request.model ?? defaultModel };
}
