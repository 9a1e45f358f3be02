// POST /v1/responses, GET and DELETE /v1/responses/:id: the OpenAI Responses API over the same turn
// as the chat door. The request is translated to chat messages at the door, the one loop runs it,
// and its result is translated back to output items; nothing here calls a model or a tool.

import type { Context } from "hono";
import { Hono } from "hono";
import { ApiError, invalidRequest } from "../errors.js";
import { checkIdempotencyKey, forgetIdempotent, rememberIdempotent } from "../http/idempotency-key.js";
import { readBodyText } from "../http/request-body.js";
import { logToolCall } from "../http/tool-call-log.js";
import { requireUpstreamKey } from "../http/upstream-configured.js";
import { claimKey } from "../ledger/claims.js";
import { randomToken } from "../lib/ids.js";
import type { LoopHooks } from "../loop/tool-loop.js";
import { parseJsonWithin } from "../protocol/json-limits.js";
import { inputToMessages } from "../protocol/responses/input.js";
import { OutputBuilder, replayTurn } from "../protocol/responses/output.js";
import { itemIds, resolveReferences } from "../protocol/responses/references.js";
import type { ResponsesRequest } from "../protocol/responses/request.js";
import { chatParameters, clientTools, instructionsOf, namedConversation, parseResponsesRequest } from "../protocol/responses/request.js";
import { finishedResponse, responseShell } from "../protocol/responses/response.js";
import type { ResponseObject } from "../protocol/responses/types.js";
import { isJsonObject, type JsonObject } from "../protocol/types.js";
import type { StoredResponse } from "../responses/store.js";
import type { TurnRequest } from "../run-turn.js";
import { runTurn } from "../run-turn.js";
import { continueTrace } from "../trace/context.js";
import type { AppEnv } from "../types.js";
import { CONVERSATION_HEADER } from "./chat-completions.js";
import { replayResponseStream, streamResponse } from "./responses-stream.js";

const RESPONSE_ID = /^[A-Za-z0-9_-]{1,128}$/;

export const responses = new Hono<AppEnv>();

responses.post("/responses", async (c) => {
  const { request, body } = await readResponsesRequest(c);
  const config = c.get("config");
  requireUpstreamKey(config);
  const services = c.get("services");
  const tenant = c.get("tenant");
  const previous = await previousResponse(c, request);
  const named = namedConversation(request);
  const store = request.store !== false;
  const parameters = chatParameters(request, body, services.model.defaultModel, config.parameters);
  const instructions = instructionsOf(request);
  const input = Array.isArray(request.input)
    ? await resolveReferences(request.input, async (id) => (await services.responses.get(tenant, id))?.response ?? null)
    : request.input;
  // Claimed once everything that can refuse the request has been checked; from here every path
  // settles the key or releases it.
  const idempotency = await checkIdempotencyKey(c, services.claims, `responses\n${JSON.stringify(body)}`);
  if (idempotency?.kind === "replay") {
    const { record } = idempotency;
    c.header("Idempotent-Replayed", "true");
    if (record.conversation_id) c.header(CONVERSATION_HEADER, record.conversation_id);
    const replayed = record.response as ResponseObject;
    return record.stream ? replayResponseStream(replayed, c.res.headers) : c.json(replayed);
  }
  // A retried key continues where its first attempt stopped (a stream may have stored part of it).
  const conversationId = previous?.conversation_id ?? named ?? idempotency?.conversationId ?? `conv_${randomToken(24)}`;
  const token = randomToken(32);
  // A client's W3C traceparent is continued here too: one trace id from the client through the tools.
  const trace = continueTrace(c.req.header("traceparent"));
  const turnRequest: TurnRequest = {
    tenant,
    conversationId,
    requestId: c.get("requestId"),
    input: inputToMessages(input),
    parameters,
    clientTools: clientTools(request),
    deadlineMs: config.limits.turnDeadlineMs,
    newConversation: !previous && !named && !idempotency,
    ...(idempotency ? { turnId: idempotency.turnId } : {}),
    ...(instructions ? { instructions } : {}),
    ...(store ? {} : { store: false }),
    ...(previous ? { continuesTurn: previous.turn_id } : {}),
    ...(store ? { responseId: `resp_${token}` } : {}),
    trace,
  };
  const kept = store || previous !== null || named !== null;
  const shell = responseShell(request, {
    id: `resp_${token}`,
    model: parameters.model,
    conversationId: kept ? conversationId : null,
    createdAt: Math.floor(Date.now() / 1000),
  });
  const log = c.get("log").with({ tenant, conversation_id: conversationId, response_id: shell.id, trace_id: trace.traceId });
  const failed = new Set<string>();
  const hooks: LoopHooks = {
    onToolResult: (event) => {
      if (!event.outcome.ok) failed.add(event.call.call.id);
      logToolCall(log, event);
    },
  };

  const stream = request.stream === true;
  // One request at a time may continue a response: two at once would fork the conversation.
  const continuation = previous
    ? await claimContinuation(c, tenant, previous.turn_id).catch((error: unknown) => {
        forgetIdempotent(c, services.claims, idempotency);
        throw error;
      })
    : null;
  const endContinuation = (moved: boolean) => {
    if (!continuation) return;
    const { claims } = services;
    const done = moved
      ? claims.settle(continuation.key, continuation.token, null, CONTINUATION_RETAIN_MS)
      : claims.release(continuation.key, continuation.token);
    c.executionCtx.waitUntil(done.catch(() => undefined));
  };
  const failedAttempt = () => {
    forgetIdempotent(c, services.claims, idempotency);
    endContinuation(false);
  };
  const save = async (record: StoredResponse) => {
    if (store) await services.responses.put(tenant, record);
    endContinuation(store);
    rememberIdempotent(c, services.claims, idempotency, {
      stream,
      include_usage: false,
      response: record.response,
      conversation_id: kept ? conversationId : "",
    });
  };
  if (kept) c.header(CONVERSATION_HEADER, conversationId);

  try {
    if (stream) {
      return await streamResponse(c, turnRequest, shell, { hooks, save, itemIds: itemIds(token), onFailure: failedAttempt });
    }
    // The turn outlives a client that goes away, so its key is settled (or released) either way.
    const running = runTurn(services, turnRequest, { hooks });
    c.executionCtx.waitUntil(running.catch(failedAttempt));
    const completed = await running;
    const builder = new OutputBuilder(undefined, itemIds(token));
    replayTurn(builder, completed.turn.messages.slice(completed.turn.input_count ?? 0), failed);
    const choice = completed.completion.choices[0];
    const response = finishedResponse(shell, builder.items, { finishReason: choice?.finish_reason, usage: completed.usage, model: completed.completion.model });
    // Stored before the answer: the client may continue from it (previous_response_id) at once.
    await save({ conversation_id: conversationId, turn_id: completed.turn.id, response });
    Object.assign(c.get("accessLog"), { steps: completed.steps, tool_invocations: services.budget.spent, total_tokens: completed.usage?.total_tokens ?? null });
    return c.json(response);
  } catch (error) {
    failedAttempt();
    throw error;
  }
});

/** A continuation holds until its turn is stored; after that the response is simply no longer the latest. */
const CONTINUATION_RETAIN_MS = 3_600_000;
const CONTINUATION_LEASE_MARGIN_MS = 30_000;

async function claimContinuation(c: Context<AppEnv>, tenant: string, turnId: string): Promise<{ key: string; token: string }> {
  const key = claimKey("continuation", tenant, turnId);
  const outcome = await c.get("services").claims.claim(key, "", { leaseMs: c.get("config").limits.turnDeadlineMs + CONTINUATION_LEASE_MARGIN_MS });
  if (outcome.status !== "claimed") {
    throw new ApiError(409, "Another request is already continuing this response; continue from the response it returns.", {
      type: "invalid_request_error",
      param: "previous_response_id",
      code: "response_not_latest",
    });
  }
  return { key, token: outcome.token };
}

responses.get("/responses/:id", async (c) => {
  const id = responseId(c.req.param("id"));
  const record = await c.get("services").responses.get(c.get("tenant"), id);
  if (!record) throw notFound(id, "id");
  c.header(CONVERSATION_HEADER, record.conversation_id);
  return c.json(record.response);
});

// The response is forgotten; the turn stays in its conversation (DELETE /v1/conversations/:id removes that).
responses.delete("/responses/:id", async (c) => {
  const id = responseId(c.req.param("id"));
  if (!(await c.get("services").responses.delete(c.get("tenant"), id))) throw notFound(id, "id");
  return c.json({ id, object: "response", deleted: true });
});

async function readResponsesRequest(c: Context<AppEnv>): Promise<{ request: ResponsesRequest; body: JsonObject }> {
  const text = await readBodyText(c);
  const body = parseJsonWithin(text, c.get("config").limits);
  if (!isJsonObject(body)) throw invalidRequest("The request body must be a JSON object.", null, "invalid_json");
  const request = parseResponsesRequest(body, c.get("config").parameters);
  const maxMessages = c.get("config").limits.maxMessages;
  if (Array.isArray(request.input) && request.input.length > maxMessages) {
    throw invalidRequest(`At most ${maxMessages} input items are accepted in one request.`, "input", "too_many_messages");
  }
  return { request, body };
}

async function previousResponse(c: Context<AppEnv>, request: ResponsesRequest): Promise<StoredResponse | null> {
  const id = request.previous_response_id;
  if (!id) return null;
  const record = await c.get("services").responses.get(c.get("tenant"), id);
  if (!record) throw notFound(id, "previous_response_id");
  return record;
}

function responseId(id: string): string {
  if (!RESPONSE_ID.test(id)) throw invalidRequest("Invalid response id.", "id");
  return id;
}

function notFound(id: string, param: string): ApiError {
  return new ApiError(404, `Response with id '${id}' not found.`, { type: "invalid_request_error", param, code: "response_not_found" });
}
