// POST /v1/responses, GET and DELETE /v1/responses/:id: the OpenAI Responses API over the same turn
// as the chat door. The request is translated to chat messages at the door, the one loop runs it,
// and its result is translated back to output items; nothing here calls a model or a tool.

import type { Context } from "hono";
import { Hono } from "hono";
import type { StoredResponse } from "../conversations/turns.js";
import { ApiError, invalidRequest } from "../errors.js";
import { checkIdempotencyKey, forgetIdempotent, rememberIdempotent, replayedRecord } from "../http/idempotency-key.js";
import { readBodyText } from "../http/request-body.js";
import { runToEnd } from "../http/run-stream.js";
import { requireUpstreamKey } from "../http/upstream-configured.js";
import type { IdempotentResponse } from "../idempotency.js";
import { budgetOf } from "../keys/budget-of.js";
import { randomToken } from "../lib/ids.js";
import { parseJsonWithin } from "../protocol/json-limits.js";
import type { ApprovalResponse } from "../protocol/responses/input.js";
import { approvalResponses, inputToMessages } from "../protocol/responses/input.js";
import type { ListQuery } from "../protocol/responses/input-items.js";
import { pageOf } from "../protocol/responses/input-items.js";
import { resolveReferences } from "../protocol/responses/references.js";
import type { ResponsesRequest } from "../protocol/responses/request.js";
import { chatParameters, instructionsOf, namedConversation, parseResponsesRequest, requestTools } from "../protocol/responses/request.js";
import { responseShell } from "../protocol/responses/response.js";
import type { ResponseObject } from "../protocol/responses/types.js";
import { isJsonObject, type JsonObject } from "../protocol/types.js";
import { responsesRecord } from "../runs/products.js";
import { ResponsesView } from "../runs/responses-view.js";
import type { ResponsesDoor, RunSpec, SequencedEvent } from "../runs/types.js";
import { continueTrace } from "../trace/context.js";
import type { AppEnv } from "../types.js";
import { CONVERSATION_HEADER } from "./chat-completions.js";
import { replayResponseStream, streamRun } from "./responses-stream.js";

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
  const tools = requestTools(request, config.mcpServers.servers);
  const decisions = approvalResponses(request.input);
  if (decisions.length > 0 && !store) throw invalidRequest("A turn waiting for approval is kept: continue it with store: true.", "store");
  const background = request.background === true;
  const parameters = chatParameters(request, body, services.model.defaultModel, config.parameters);
  const instructions = instructionsOf(request);
  const input = Array.isArray(request.input)
    ? await resolveReferences(request.input, async (id) => (await services.homes.response(tenant, id))?.response ?? null)
    : request.input;
  // Claimed once everything that can refuse the request has been checked; from here every path
  // settles the key or releases it.
  const idempotency = await checkIdempotencyKey(c, services.claims, `responses\n${JSON.stringify(body)}`);
  const stream = request.stream === true;
  const replay = async (record: IdempotentResponse) => {
    c.header("Idempotent-Replayed", "true");
    if (record.conversation_id) c.header(CONVERSATION_HEADER, record.conversation_id);
    const replayed = record.response as ResponseObject;
    // A background response's first answer was its queued self: a retry sees where it is now.
    if (replayed.background === true) return c.json((await services.homes.response(tenant, replayed.id))?.response ?? replayed);
    return record.stream ? replayResponseStream(replayed, c.res.headers) : c.json(replayed);
  };
  if (idempotency?.kind === "replay") return replay(idempotency.record);
  // Decisions on approval requests continue the turn that waits for them, in its conversation (after
  // the key: a retry of a continuation that answered replays it instead of finding its requests decided).
  let continuing: Continuing | null;
  try {
    continuing = decisions.length > 0 ? await parkedTurnOf(c, decisions, previous) : null;
  } catch (error) {
    forgetIdempotent(c, services.claims, idempotency);
    throw error;
  }
  // A retried key continues where its first attempt stopped (a stream may have stored part of it).
  const conversationId = continuing?.conversationId ?? previous?.conversation_id ?? named ?? idempotency?.conversationId ?? `conv_${randomToken(24)}`;
  // The response's id names the conversation's home, which keeps it: GET and previous_response_id find it there.
  const token = services.homes.responseToken(tenant, conversationId);
  const runId = idempotency?.turnId ?? `turn_${randomToken(16)}`;
  // A client's W3C traceparent is continued here too: one trace id from the client through the tools.
  const trace = continueTrace(c.req.header("traceparent"));
  const kept = store || previous !== null || named !== null || continuing !== null;
  const shell = responseShell(request, {
    id: `resp_${token}`,
    model: parameters.model,
    conversationId: kept ? conversationId : null,
    createdAt: Math.floor(Date.now() / 1000),
  });
  const spec: RunSpec = {
    id: runId,
    background,
    createdAt: Date.now(),
    door: { kind: "responses", shell, token, stream, kept },
    ...(idempotency ? { idempotency: { key: idempotency.claim, token: idempotency.token, retainMs: config.idempotencyTtlSeconds * 1000 } } : {}),
    turn: {
      tenant,
      conversationId,
      requestId: c.get("requestId"),
      input: continuing ? [] : inputToMessages(input),
      parameters,
      clientTools: tools.clientTools,
      ...(tools.sources ? { sources: tools.sources } : {}),
      ...(tools.approval ? { approval: tools.approval } : {}),
      deadlineMs: config.limits.turnDeadlineMs,
      turnId: runId,
      newConversation: !previous && !named && !idempotency && !continuing,
      ...(continuing ? { continueParked: true } : {}),
      ...(idempotency ? { idempotencyKey: idempotency.claim } : {}),
      ...(instructions ? { instructions } : {}),
      ...(store ? {} : { store: false }),
      // The home runs one turn of a conversation at a time: a second request continuing the same
      // response waits for the first, then finds the conversation moved on (409 response_not_latest).
      ...(previous ? { continuesTurn: previous.turn_id } : {}),
      ...(store ? { responseId: shell.id } : {}),
      trace,
      ...budgetOf(c, store),
    },
  };
  const recordOf = (response: ResponseObject): IdempotentResponse => responsesRecord({ stream, kept }, conversationId, response);
  const answered = (response: ResponseObject) => rememberIdempotent(c, services.claims, idempotency, recordOf(response));
  const failedAttempt = () => forgetIdempotent(c, services.claims, idempotency);
  if (kept) c.header(CONVERSATION_HEADER, conversationId);

  try {
    const clientGone = new AbortController();
    // A continuation starts when its decisions are recorded, in the same call to the conversation's home.
    const start = (follow: boolean) =>
      continuing ? decideAndStart(c, continuing, spec, follow, clientGone.signal) : services.runs.start(spec, clientGone.signal);
    if (background) {
      // Answered at once; the run goes on in the conversation's home. A retried key finds this response.
      const queued: ResponseObject = { ...shell, status: "queued" };
      if (stream) {
        const events = await start(true);
        answered(queued);
        return streamRun(c, events, spec.door as ResponsesDoor, { immediate: true, clientGone });
      }
      if (continuing) await start(false);
      else await services.runs.launch(spec);
      answered(queued);
      return c.json(queued);
    }
    // A stored turn runs in its home and outlives this request; one that keeps nothing runs here.
    const events = store ? await start(true) : services.runs.inline(services, spec, clientGone.signal);
    if (stream) {
      return await streamRun(c, events, spec.door as ResponsesDoor, {
        clientGone,
        ended: (terminal, view) => {
          if (terminal?.type === "completed") answered(view.response);
          else if (terminal !== null || !store) failedAttempt();
        },
      });
    }
    const view = new ResponsesView(spec.door as ResponsesDoor);
    const end = await runToEnd(events, (event) => view.apply(event));
    const finished = view.response;
    answered(finished);
    if (end.type === "completed") {
      Object.assign(c.get("accessLog"), {
        steps: end.result.steps,
        tool_invocations: end.result.toolInvocations,
        total_tokens: end.result.usage?.total_tokens ?? null,
      });
    }
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
  if (c.req.query("stream") === "true") return resumeStream(c, id);
  const record = await c.get("services").homes.response(c.get("tenant"), id);
  if (!record) throw notFound(id, "id");
  c.header(CONVERSATION_HEADER, record.conversation_id);
  return c.json(record.response);
});

// Stops a background run between steps: no further model or tool call starts.
responses.post("/responses/:id/cancel", async (c) => {
  const id = responseId(c.req.param("id"));
  const outcome = await c.get("services").runs.cancel(c.get("tenant"), id);
  if (!outcome || (outcome.status === "cancelled" && !outcome.response)) throw notFound(id, "id");
  if (outcome.status === "not_cancellable") {
    throw outcome.reason === "not_background"
      ? invalidRequest("Only responses created with background: true can be cancelled.", null, "response_not_background")
      : invalidRequest("Cannot cancel a response that has already finished.", null, "response_already_finished");
  }
  return c.json(outcome.response as ResponseObject);
});

responses.get("/responses/:id/input_items", async (c) => {
  const id = responseId(c.req.param("id"));
  const query = listQuery(c);
  const items = await c.get("services").runs.inputItems(c.get("tenant"), id);
  if (!items) throw notFound(id, "id");
  return c.json(pageOf(items, query));
});

// The response is forgotten; the turn stays in its conversation (DELETE /v1/conversations/:id removes that).
responses.delete("/responses/:id", async (c) => {
  const id = responseId(c.req.param("id"));
  if (!(await c.get("services").homes.deleteResponse(c.get("tenant"), id))) throw notFound(id, "id");
  return c.json({ id, object: "response", deleted: true });
});

/** `GET /v1/responses/{id}?stream=true&starting_after=N`: a background response's events after N, then the live ones. */
async function resumeStream(c: Context<AppEnv>, id: string): Promise<Response> {
  const raw = c.req.query("starting_after");
  if (raw !== undefined && !/^\d{1,15}$/.test(raw))
    throw invalidRequest("Invalid value for 'starting_after': must be a non-negative integer.", "starting_after");
  const after = raw === undefined ? null : Number(raw);
  const clientGone = new AbortController();
  const followed = await c.get("services").runs.follow(c.get("tenant"), id, after, clientGone.signal);
  if (followed.status === "not_found") throw notFound(id, "id");
  if (followed.status === "not_background") {
    throw new ApiError(404, `Response '${id}' was not created with background: true; only a background response can be streamed again.`, {
      type: "invalid_request_error",
      param: "stream",
      code: "response_not_background",
    });
  }
  if (followed.status === "past_end") {
    throw invalidRequest(`Invalid value for 'starting_after': the response's last event is ${followed.last}.`, "starting_after", "invalid_value");
  }
  return streamRun(c, followed.events, followed.door, { immediate: true, clientGone, startingAfter: after });
}

function listQuery(c: Context<AppEnv>): ListQuery {
  const { limit: rawLimit, order: rawOrder, after, before } = c.req.query();
  const limit = rawLimit === undefined ? 20 : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw invalidRequest("Invalid value for 'limit': must be an integer from 1 to 100.", "limit");
  const order = rawOrder ?? "desc";
  if (order !== "asc" && order !== "desc") throw invalidRequest("Invalid value for 'order': must be 'asc' or 'desc'.", "order");
  return { limit, order, ...(after ? { after } : {}), ...(before ? { before } : {}) };
}

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

interface Continuing {
  conversationId: string;
  decisions: Array<{ id: string; approve: boolean; reason?: string }>;
}

/**
 * The parked turn the input's `mcp_approval_response` items decide, or null when there are none
 * to decide. With `previous_response_id` they must answer that response's requests. Without it (the
 * Agents SDK sends its whole history back, earlier decisions included) a decision on a request
 * already decided is history, and only pending ones continue a turn.
 */
async function parkedTurnOf(c: Context<AppEnv>, responses: readonly ApprovalResponse[], previous: StoredResponse | null): Promise<Continuing | null> {
  const services = c.get("services");
  const tenant = c.get("tenant");
  const found = await Promise.all(responses.map((response) => services.approvals.get(tenant, response.id)));
  const pending: Continuing["decisions"] = [];
  let conversationId: string | null = null;
  for (const [index, response] of responses.entries()) {
    const approval = found[index];
    const param = `input[${response.index}].approval_request_id`;
    if (approval?.kind !== "turn" || (previous && approval.conversation_id !== previous.conversation_id)) {
      throw invalidRequest(
        `No approval request ${response.id} is waiting for an answer${previous ? " in the previous response's conversation" : ""}.`,
        param,
        "approval_not_found",
      );
    }
    if (approval.status !== "pending") {
      if (!previous) continue;
      throw new ApiError(
        409,
        `Approval request ${response.id} was already ${approval.status === "expired" ? "expired" : approval.status}: the first decision stands.`,
        {
          type: "invalid_request_error",
          param,
          code: approval.status === "expired" ? "approval_expired" : "approval_already_decided",
        },
      );
    }
    if (conversationId !== null && approval.conversation_id !== conversationId) {
      throw invalidRequest("The approval responses answer turns of different conversations: send them separately.", param, "invalid_value");
    }
    conversationId = approval.conversation_id;
    pending.push({ id: response.id, approve: response.approve, ...(response.reason ? { reason: response.reason } : {}) });
  }
  return conversationId === null ? null : { conversationId, decisions: pending };
}

/** Records the decisions and starts the continuation; a refusal is the client's error, said with what stands. */
async function decideAndStart(c: Context<AppEnv>, continuing: Continuing, spec: RunSpec, follow: boolean, stop: AbortSignal) {
  const outcome = await c.get("services").approvals.decide(c.get("tenant"), continuing.decisions, spec, { follow, stop });
  switch (outcome.status) {
    case "ok":
      if (!outcome.events && follow)
        throw new ApiError(409, "The turn is already being continued.", { type: "invalid_request_error", code: "approval_already_decided" });
      return outcome.events ?? emptyEvents();
    case "conflict":
    case "expired":
      throw new ApiError(409, `Approval request ${outcome.approval.id} was already ${outcome.approval.status}: the first decision stands.`, {
        type: "invalid_request_error",
        param: "input",
        code: outcome.status === "expired" ? "approval_expired" : "approval_already_decided",
      });
    case "incomplete":
      throw invalidRequest(`Decide every call of the step at once: also answer ${outcome.missing.join(", ")}.`, "input", "approval_missing");
    default:
      throw invalidRequest(`No approval request ${outcome.id} is waiting for an answer.`, "input", "approval_not_found");
  }
}

async function* emptyEvents(): AsyncGenerator<SequencedEvent> {}

function responseId(id: string): string {
  if (!RESPONSE_ID.test(id)) throw invalidRequest("Invalid response id.", "id");
  return id;
}

function notFound(id: string, param: string): ApiError {
  return new ApiError(404, `Response with id '${id}' not found.`, { type: "invalid_request_error", param, code: "response_not_found" });
}
