// POST /v1/chat/completions: the OpenAI-compatible door to the tool loop.

import { Hono } from "hono";
import type { Context } from "hono";
import { createTurnDependencies } from "../dependencies.js";
import { ApiError, invalidRequest } from "../errors.js";
import { randomToken } from "../protocol/normalize.js";
import type { ChatRequest } from "../protocol/request-schema.js";
import { chatRequestSchema, describeIssue } from "../protocol/request-schema.js";
import type { ChatMessage, FunctionToolDefinition, JsonObject } from "../protocol/types.js";
import { runTurn } from "../run-turn.js";
import type { AppEnv } from "../types.js";
import { streamTurn } from "./chat-completions-stream.js";

export const CONVERSATION_HEADER = "X-Conversation-Id";

/** Fields that steer the orchestrator; everything else in the body is forwarded to the model. */
const OWN_FIELDS = new Set(["conversation_id", "messages", "tools", "stream", "stream_options", "model"]);

export const chatCompletions = new Hono<AppEnv>();

chatCompletions.post("/chat/completions", async (c) => {
  const request = await readChatRequest(c);
  const config = c.get("config");
  if (!config.offline && !config.dmxapi.apiKey) {
    throw new ApiError(503, "The orchestrator has no DMXAPI_API_KEY configured.", { type: "server_error", code: "upstream_not_configured" });
  }
  const conversationId = resolveConversationId(c, request);
  const dependencies = createTurnDependencies(c.env, config, (work) => c.executionCtx.waitUntil(work.catch(() => undefined)));
  const turnRequest = {
    tenant: c.get("tenant"),
    conversationId,
    requestId: c.get("requestId"),
    input: request.messages as ChatMessage[],
    parameters: forwardedParameters(request, dependencies.model.defaultModel),
    clientTools: (request.tools ?? []) as FunctionToolDefinition[],
  };
  c.header(CONVERSATION_HEADER, conversationId);

  if (request.stream === true) {
    return streamTurn(c, dependencies, turnRequest, request.stream_options?.include_usage === true);
  }
  const completed = await runTurn(dependencies, turnRequest);
  return c.json({ ...completed.completion, conversation_id: conversationId });
});

async function readChatRequest(c: Context<AppEnv>): Promise<ChatRequest> {
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
  return parsed.data;
}

function resolveConversationId(c: Context<AppEnv>, request: ChatRequest): string {
  const fromHeader = c.req.header(CONVERSATION_HEADER)?.trim();
  if (fromHeader && request.conversation_id && fromHeader !== request.conversation_id) {
    throw invalidRequest(`The ${CONVERSATION_HEADER} header and conversation_id name different conversations.`, "conversation_id");
  }
  const chosen = request.conversation_id ?? fromHeader;
  if (chosen === undefined || chosen === "") return `conv_${randomToken(24)}`;
  const valid = chatRequestSchema.shape.conversation_id.safeParse(chosen);
  if (!valid.success) throw invalidRequest(describeIssue(valid.error).message.replace("''", "'conversation_id'"), "conversation_id");
  return chosen;
}

function forwardedParameters(request: ChatRequest, defaultModel: string): JsonObject & { model: string } {
  const parameters: JsonObject = {};
  for (const [key, value] of Object.entries(request)) if (!OWN_FIELDS.has(key)) parameters[key] = value;
  return { ...parameters, model: request.model ?? defaultModel };
}
