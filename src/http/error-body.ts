// Every failure a client can see, as one OpenAI-style error: the status and body `app.onError`
// answers with, and the `error` event a stream ends with once it has started. Domain errors (the
// loop's, the store's, the upstream's) know nothing of HTTP; this is where they get a status.

import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ApprovalNeedsStoreError, ApprovalPendingError } from "../approvals/errors.js";
import { ConfigError } from "../config.js";
import { ConversationBusyError, ConversationGoneError } from "../conversations/turns.js";
import { ApiError } from "../errors.js";
import { ContinuedTurnGoneError, NotLatestTurnError } from "../history/continuation.js";
import { HistoryConflictError } from "../history/reconcile.js";
import { InvalidHistoryError } from "../history/tool-pairs.js";
import { BudgetRefusedError, KeyRevokedError, ModelNotPricedError } from "../keys/budgeted-model.js";
import { ConversationFullError, NothingToContinueError, TurnDeadlineError } from "../run-turn.js";
import { UpstreamError } from "../upstream/upstream-error.js";

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof UpstreamError) {
    return new ApiError(error.status as ContentfulStatusCode, error.message, { type: error.type, param: error.param, code: error.code });
  }
  if (error instanceof ConfigError) {
    // The operator's mistake, said plainly (the variable, not its value): not a 500 with a stack.
    return new ApiError(503, `The orchestrator is misconfigured: ${error.message}`, { type: "server_error", code: "invalid_configuration" });
  }
  if (error instanceof TurnDeadlineError) return new ApiError(504, error.message, { type: "timeout_error", code: "turn_deadline_exceeded" });
  if (error instanceof HistoryConflictError) {
    return new ApiError(409, error.message, { type: "invalid_request_error", param: `messages[${error.index}]`, code: "history_conflict" });
  }
  if (error instanceof InvalidHistoryError) {
    return new ApiError(400, error.message, { type: "invalid_request_error", param: error.param, code: "invalid_tool_history" });
  }
  if (error instanceof ContinuedTurnGoneError) {
    return new ApiError(404, error.message, { type: "invalid_request_error", param: "previous_response_id", code: "response_not_found" });
  }
  if (error instanceof NotLatestTurnError) {
    return new ApiError(409, error.message, { type: "invalid_request_error", param: "previous_response_id", code: "response_not_latest" });
  }
  if (error instanceof ConversationFullError) return new ApiError(413, error.message, { code: "conversation_too_large" });
  if (error instanceof BudgetRefusedError) {
    const seconds = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
    // Neither passes within a client's retry window: openai-node is told not to retry (it would retry any 429).
    return error.kind === "tokens"
      ? new ApiError(429, error.message, { type: "tokens", code: "rate_limit_exceeded", headers: { "Retry-After": seconds, "x-should-retry": "false" } })
      : new ApiError(429, error.message, { type: "insufficient_quota", code: "insufficient_quota", headers: { "x-should-retry": "false" } });
  }
  if (error instanceof KeyRevokedError) return new ApiError(401, error.message, { type: "invalid_request_error", code: "invalid_api_key" });
  if (error instanceof ModelNotPricedError)
    return new ApiError(400, error.message, { type: "invalid_request_error", param: "model", code: "model_not_priced" });
  if (error instanceof ApprovalPendingError) return new ApiError(409, error.message, { type: "invalid_request_error", code: "approval_pending" });
  if (error instanceof NothingToContinueError) return new ApiError(409, error.message, { type: "invalid_request_error", code: "nothing_to_continue" });
  if (error instanceof ApprovalNeedsStoreError) {
    return new ApiError(400, error.message, { type: "invalid_request_error", param: "store", code: "approval_requires_store" });
  }
  if (error instanceof ConversationBusyError) {
    return new ApiError(409, error.message, {
      type: "invalid_request_error",
      code: "conversation_busy",
      headers: { "Retry-After": String(error.retryAfterSeconds) },
    });
  }
  if (error instanceof ConversationGoneError) return new ApiError(404, error.message, { type: "invalid_request_error", code: "conversation_not_found" });
  if (error instanceof HTTPException) return new ApiError(error.status as ContentfulStatusCode, error.message || "Request failed");
  return new ApiError(500, "The orchestrator failed unexpectedly.", { type: "server_error" });
}

/** The error a client receives, its message redacted of every configured secret. */
export function errorBody(error: unknown, redact: (text: string) => string): ApiError {
  const mapped = toApiError(error);
  mapped.body.error.message = redact(mapped.body.error.message);
  return mapped;
}

/** Whether the failure is ours to alert on, rather than the client's or the upstream's. */
export function isUnexpected(error: unknown): boolean {
  return !(
    error instanceof ApiError ||
    error instanceof UpstreamError ||
    error instanceof TurnDeadlineError ||
    error instanceof HistoryConflictError ||
    error instanceof InvalidHistoryError ||
    error instanceof NotLatestTurnError ||
    error instanceof ContinuedTurnGoneError ||
    error instanceof ConversationFullError ||
    error instanceof ApprovalPendingError ||
    error instanceof BudgetRefusedError ||
    error instanceof ModelNotPricedError ||
    error instanceof KeyRevokedError ||
    error instanceof NothingToContinueError ||
    error instanceof ApprovalNeedsStoreError ||
    error instanceof ConversationBusyError ||
    error instanceof ConversationGoneError ||
    error instanceof HTTPException
  );
}
