// POST /v1/chat/completions: the OpenAI-compatible door to the tool loop.

import type { Context } from "hono";
import { Hono } from "hono";
import { ApiError, invalidRequest } from "../errors.js";
import { checkIdempotencyKey, forgetIdempotent, rememberIdempotent, replayedRecord } from "../http/idempotency-key.js";
import { readBodyText } from "../http/request-body.js";
import { runToEnd } from "../http/run-stream.js";
import { requireUpstreamKey } from "../http/upstream-configured.js";
import type { IdempotentResponse } from "../idempotency.js";
import { budgetOf } from "../keys/budget-of.js";
import { randomToken } from "../lib/ids.js";
import { parseJsonWithin } from "../protocol/json-limits.js";
import { applyParameterPolicy } from "../protocol/parameters.js";
import type { ChatRequest } from "../protocol/request-schema.js";
import { chatRequestSchema, describeIssue } from "../protocol/request-schema.js";
import type { ChatCompletion, ChatMessage, FunctionToolDefinition, JsonObject } from "../protocol/types.js";
import { chatRecord } from "../runs/products.js";
import type { RunSpec } from "../runs/types.js";
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
  const includeUsage = request.stream_options?.include_usage === true;
  const stream = request.stream === true;
  const store = request.store !== false;
  const runId = idempotency?.turnId ?? `turn_${randomToken(16)}`;
  const parameters = forwardedParameters(request, services.model.defaultModel);
  const spec: RunSpec = {
    id: runId,
    background: false,
    createdAt: Date.now(),
    door: { kind: "chat", stream, includeUsage },
    ...(idempotency ? { idempotency: { key: idempotency.claim, token: idempotency.token, retainMs: config.idempotencyTtlSeconds * 1000 } } : {}),
    turn: {
      tenant: c.get("tenant"),
      conversationId,
      requestId: c.get("requestId"),
      input: request.messages as ChatMessage[],
      parameters,
      clientTools: (request.tools ?? []) as FunctionToolDefinition[],
      ...(request.server_tools ? { allowedTools: request.server_tools } : {}),
      deadlineMs: config.limits.turnDeadlineMs,
      turnId: runId,
      // An id we just generated cannot have history: its home is warmed while the model is called.
      newConversation: !requested && !idempotency,
      reconcile: true,
      // `store: false` passes the parameter policy (it stores nothing upstream) and keeps nothing here either.
      ...(store ? {} : { store: false }),
      trace,
      ...(idempotency ? { idempotencyKey: idempotency.claim } : {}),
      ...budgetOf(c, store),
    },
  };
  c.header(CONVERSATION_HEADER, conversationId);
  const recordOf = (completion: ChatCompletion) => chatRecord(completion, conversationId, stream, includeUsage);

  try {
    const clientGone = new AbortController();
    // A stored turn runs in its conversation's home and outlives this request; one that keeps nothing runs here.
    const events = store ? await services.runs.start(spec, clientGone.signal) : services.runs.inline(services, spec, clientGone.signal);
    if (stream) {
      return await streamTurn(c, events, {
        model: parameters.model,
        conversationId,
        includeUsage,
        toolEvents: request.stream_options?.include_tool_events === true,
        clientGone,
        ended: (terminal) => {
          if (terminal?.type === "completed") rememberIdempotent(c, services.claims, idempotency, recordOf(terminal.result.completion));
          // A stored turn whose client left goes on, and commits its key's answer with it.
          else if (terminal !== null || !store) forgetIdempotent(c, services.claims, idempotency);
        },
      });
    }
    const end = await runToEnd(events);
    if (end.type !== "completed") throw new ApiError(409, "The turn was cancelled.", { code: "run_cancelled" });
    const { result } = end;
    Object.assign(c.get("accessLog"), { steps: result.steps, tool_invocations: result.toolInvocations, total_tokens: result.usage?.total_tokens ?? null });
    const record = recordOf(result.completion);
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
