// POST /v1/responses, GET and DELETE /v1/responses/:id: the OpenAI Responses API over the same turn
// as the chat door. The request is translated to chat messages at the door, the one loop runs it,
// and its result is translated back to output items; nothing here calls a model or a tool.

import type { Context } from "hono";
import { Hono } from "hono";
import type { StoredResponse, TurnProducts } from "../conversations/turns.js";
import { ApiError, invalidRequest } from "../errors.js";
import { checkIdempotencyKey, forgetIdempotent, idempotentProduct, rememberIdempotent, replayedRecord } from "../http/idempotency-key.js";
import { readBodyText } from "../http/request-body.js";
import { logToolCall } from "../http/tool-call-log.js";
import { requireUpstreamKey } from "../http/upstream-configured.js";
import type { IdempotentResponse } from "../idempotency.js";
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
import type { CompletedTurn, TurnRequest } from "../run-turn.js";
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
    ? await resolveReferences(request.input, async (id) => (await services.homes.response(tenant, id))?.response ?? null)
    : request.input;
  // Claimed once everything that can refuse the request has been checked; from here every path
  // settles the key or releases it.
  const idempotency = await checkIdempotencyKey(c, services.claims, `responses\n${JSON.stringify(body)}`);
  const stream = request.stream === true;
  const replay = (record: IdempotentResponse) => {
    c.header("Idempotent-Replayed", "true");
    if (record.conversation_id) c.header(CONVERSATION_HEADER, record.conversation_id);
    const replayed = record.response as ResponseObject;
    return record.stream ? replayResponseStream(replayed, c.res.headers) : c.json(replayed);
  };
  if (idempotency?.kind === "replay") return replay(idempotency.record);
  // A retried key continues where its first attempt stopped (a stream may have stored part of it).
  const conversationId = previous?.conversation_id ?? named ?? idempotency?.conversationId ?? `conv_${randomToken(24)}`;
  // The response's id names the conversation's home, which keeps it: GET and previous_response_id find it there.
  const token = services.homes.responseToken(tenant, conversationId);
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
    ...(idempotency ? { turnId: idempotency.turnId, idempotencyKey: idempotency.claim } : {}),
    ...(instructions ? { instructions } : {}),
    ...(store ? {} : { store: false }),
    // The home runs one turn of a conversation at a time: a second request continuing the same
    // response waits for the first, then finds the conversation moved on (409 response_not_latest).
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
  const recordOf = (response: ResponseObject): IdempotentResponse => ({ stream, include_usage: false, response, conversation_id: kept ? conversationId : "" });
  // The response, and the answer its Idempotency-Key replays, are committed with the turn.
  const products = (response: ResponseObject, completed: CompletedTurn): TurnProducts => ({
    ...(store ? { response: { conversation_id: conversationId, turn_id: completed.turn.id, response } } : {}),
    ...idempotentProduct(c, idempotency, recordOf(response)),
  });
  const answered = (response: ResponseObject) => rememberIdempotent(c, services.claims, idempotency, recordOf(response));
  const failedAttempt = () => forgetIdempotent(c, services.claims, idempotency);
  if (kept) c.header(CONVERSATION_HEADER, conversationId);

  try {
    if (stream) {
      return await streamResponse(c, turnRequest, shell, { hooks, products, answered, itemIds: itemIds(token), onFailure: failedAttempt });
    }
    let response: ResponseObject | null = null;
    const build = (completed: CompletedTurn): ResponseObject => {
      const builder = new OutputBuilder(undefined, itemIds(token));
      replayTurn(builder, completed.turn.messages.slice(completed.turn.input_count ?? 0), failed);
      const choice = completed.completion.choices[0];
      response = finishedResponse(shell, builder.items, { finishReason: choice?.finish_reason, usage: completed.usage, model: completed.completion.model });
      return response;
    };
    // The turn outlives a client that goes away, so its key is settled (or released) either way.
    const running = runTurn(services, turnRequest, { hooks, products: (completed) => products(build(completed), completed) });
    c.executionCtx.waitUntil(running.catch(failedAttempt));
    const completed = await running;
    const finished = response ?? build(completed);
    answered(finished);
    Object.assign(c.get("accessLog"), { steps: completed.steps, tool_invocations: services.budget.spent, total_tokens: completed.usage?.total_tokens ?? null });
    return c.json(finished);
  } catch (error) {
    const replayed = replayedRecord(error);
    if (replayed) {
      rememberIdempotent(c, services.claims, idempotency, replayed);
      return replay(replayed);
    }
    failedAttempt();
    throw error;
  }
});

responses.get("/responses/:id", async (c) => {
  const id = responseId(c.req.param("id"));
  const record = await c.get("services").homes.response(c.get("tenant"), id);
  if (!record) throw notFound(id, "id");
  c.header(CONVERSATION_HEADER, record.conversation_id);
  return c.json(record.response);
});

// The response is forgotten; the turn stays in its conversation (DELETE /v1/conversations/:id removes that).
responses.delete("/responses/:id", async (c) => {
  const id = responseId(c.req.param("id"));
  if (!(await c.get("services").homes.deleteResponse(c.get("tenant"), id))) throw notFound(id, "id");
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
  const record = await c.get("services").homes.response(c.get("tenant"), id);
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
