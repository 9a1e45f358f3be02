// POST /v1/chat/completions: the OpenAI-compatible door to the tool loop.

import type { Context } from "hono";
import { Hono } from "hono";
import { invalidRequest } from "../errors.js";
import { checkIdempotencyKey, forgetIdempotent, idempotentProduct, rememberIdempotent, replayedRecord } from "../http/idempotency-key.js";
import { readBodyText } from "../http/request-body.js";
import { logToolCall } from "../http/tool-call-log.js";
import { requireUpstreamKey } from "../http/upstream-configured.js";
import type { IdempotentResponse } from "../idempotency.js";
import { randomToken } from "../lib/ids.js";
import type { LoopHooks } from "../loop/tool-loop.js";
import { parseJsonWithin } from "../protocol/json-limits.js";
import { applyParameterPolicy } from "../protocol/parameters.js";
import type { ChatRequest } from "../protocol/request-schema.js";
import { chatRequestSchema, describeIssue } from "../protocol/request-schema.js";
import type { ChatCompletion, ChatMessage, FunctionToolDefinition, JsonObject } from "../protocol/types.js";
import type { CompletedTurn, TurnRequest } from "../run-turn.js";
import { runTurn } from "../run-turn.js";
import { continueTrace } from "../trace/context.js";
import type { AppEnv } from "../types.js";
import { replayAsStream, streamTurn } from "./chat-completions-stream.js";

export const CONVERSATION_HEADER = "X-Conversation-Id";

/** Fields that steer the orchestrator; the rest, once the parameter policy passed it, goes to the model. */
const OWN_FIELDS = new Set(["conversation_id", "messages", "tools", "stream", "stream_options", "model", "server_tools"]);

export const chatCompletions = new Hono<AppEnv>();

chatCompletions.post("/chat/completions", async (c) => {
  const { request, text } = await readChatRequest(c);
  const config = c.get("config");
  requireUpstreamKey(config);
  const requested = requestedConversation(c, request);
  const services = c.get("services");
  // Everything that can refuse the request is checked before the key is claimed; from the claim on,
  // every path either settles the key or releases it.
  const idempotency = await checkIdempotencyKey(c, services.claims, `chat\n${requested ?? ""}\n${text}`);
  const replay = (record: IdempotentResponse) => {
    c.header(CONVERSATION_HEADER, record.conversation_id);
    c.header("Idempotent-Replayed", "true");
    if (record.stream) return replayAsStream(record.response as ChatCompletion & { conversation_id: string }, record.include_usage, c.res.headers);
    return c.json(record.response as JsonObject);
  };
  if (idempotency?.kind === "replay") return replay(idempotency.record);

  // A retried key continues where its first attempt stopped (a stream may have stored part of it).
  const conversationId = requested ?? idempotency?.conversationId ?? `conv_${randomToken(24)}`;
  // A client's W3C traceparent is continued: its trace id is the turn's, on every log line and tool call.
  const trace = continueTrace(c.req.header("traceparent"));
  const log = c.get("log").with({ tenant: c.get("tenant"), conversation_id: conversationId, trace_id: trace.traceId });
  const turnRequest: TurnRequest = {
    tenant: c.get("tenant"),
    conversationId,
    requestId: c.get("requestId"),
    input: request.messages as ChatMessage[],
    parameters: forwardedParameters(request, services.model.defaultModel),
    clientTools: (request.tools ?? []) as FunctionToolDefinition[],
    ...(request.server_tools ? { allowedTools: request.server_tools } : {}),
    deadlineMs: config.limits.turnDeadlineMs,
    // An id we just generated cannot have history: its home is warmed while the model is called.
    newConversation: !requested && !idempotency,
    reconcile: true,
    // `store: false` passes the parameter policy (it stores nothing upstream) and keeps nothing here either.
    ...(request.store === false ? { store: false } : {}),
    trace,
    ...(idempotency ? { turnId: idempotency.turnId, idempotencyKey: idempotency.claim } : {}),
  };
  const hooks: LoopHooks = { onToolResult: (event) => logToolCall(log, event) };
  c.header(CONVERSATION_HEADER, conversationId);
  const includeUsage = request.stream_options?.include_usage === true;
  const stream = request.stream === true;
  const recordOf = (completion: ChatCompletion): IdempotentResponse => ({
    stream,
    include_usage: includeUsage,
    response: { ...completion, conversation_id: conversationId },
    conversation_id: conversationId,
  });
  const products = (completed: CompletedTurn) => idempotentProduct(c, idempotency, recordOf(completed.completion));

  try {
    if (stream) {
      return await streamTurn(c, turnRequest, {
        includeUsage,
        toolEvents: request.stream_options?.include_tool_events === true,
        hooks,
        products,
        onComplete: (completion) => rememberIdempotent(c, services.claims, idempotency, recordOf(completion)),
        onFailure: () => forgetIdempotent(c, services.claims, idempotency),
      });
    }
    // The turn outlives a client that goes away, so its key is settled (or released) either way.
    const running = runTurn(services, turnRequest, { hooks, products });
    c.executionCtx.waitUntil(running.catch(() => forgetIdempotent(c, services.claims, idempotency)));
    const completed = await running;
    Object.assign(c.get("accessLog"), { steps: completed.steps, tool_invocations: services.budget.spent, total_tokens: completed.usage?.total_tokens ?? null });
    const record = recordOf(completed.completion);
    rememberIdempotent(c, services.claims, idempotency, record);
    return c.json(record.response as JsonObject);
  } catch (error) {
    const replayed = replayedRecord(error);
    if (replayed) {
      rememberIdempotent(c, services.claims, idempotency, replayed);
      return replay(replayed);
    }
    forgetIdempotent(c, services.claims, idempotency);
    throw error;
  }
});

async function readChatRequest(c: Context<AppEnv>): Promise<{ request: ChatRequest; text: string }> {
  const text = await readBodyText(c);
  const body = parseJsonWithin(text, c.get("config").limits);
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
  return { request: applyParameterPolicy(parsed.data, c.get("config").parameters), text };
}

/** The conversation the client names, checked; null when it names none. */
function requestedConversation(c: Context<AppEnv>, request: ChatRequest): string | null {
  const fromHeader = c.req.header(CONVERSATION_HEADER)?.trim();
  if (fromHeader && request.conversation_id && fromHeader !== request.conversation_id) {
    throw invalidRequest(`The ${CONVERSATION_HEADER} header and conversation_id name different conversations.`, "conversation_id");
  }
  const chosen = request.conversation_id ?? fromHeader;
  if (chosen === undefined || chosen === "") return null;
  const valid = chatRequestSchema.shape.conversation_id.safeParse(chosen);
  if (!valid.success) throw invalidRequest(describeIssue(valid.error).message.replace("''", "'conversation_id'"), "conversation_id");
  return chosen;
}

function forwardedParameters(request: ChatRequest, defaultModel: string): JsonObject & { model: string } {
  const parameters: JsonObject = {};
  for (const [key, value] of Object.entries(request)) if (!OWN_FIELDS.has(key)) parameters[key] = value;
  return { ...parameters, model: request.model ?? defaultModel };
}
