// What of an upstream error may reach a client besides its (redacted) message: `code` and `param`
// are never copied, only mapped onto the fixed vocabulary below, so an upstream or a gateway in front
// of it that puts a key (or anything else) into those fields cannot pass it on. `type` is always
// chosen by the orchestrator from the status it answers with (the upstream's, mapped, only steers retries).

import { KNOWN_PARAMETERS } from "../protocol/parameters.js";

/** Upstream error codes passed on as they are; any other code becomes null. */
export const UPSTREAM_ERROR_CODES: ReadonlySet<string> = new Set([
  "context_length_exceeded",
  "string_above_max_length",
  "invalid_value",
  "invalid_type",
  "invalid_request_error",
  "missing_required_parameter",
  "unsupported_parameter",
  "unsupported_value",
  "unknown_parameter",
  "invalid_api_key",
  "model_not_found",
  "insufficient_quota",
  "rate_limit_exceeded",
  "tokens_exceeded",
  "content_filter",
  "content_policy_violation",
  "server_error",
  "overloaded",
  "service_unavailable",
  "timeout",
]);

/** Field names that may follow a known parameter in `param` (`messages[2].content`, `tools[0].function.name`). */
const PARAM_FIELDS: ReadonlySet<string> = new Set([
  "role",
  "content",
  "name",
  "text",
  "type",
  "image_url",
  "input_audio",
  "file",
  "url",
  "detail",
  "tool_calls",
  "tool_call_id",
  "function",
  "arguments",
  "parameters",
  "description",
  "strict",
  "json_schema",
  "schema",
  "include_usage",
  "id",
]);

/** Upstream error types the retry policy reads; the client's `type` is chosen from the status instead. */
const UPSTREAM_ERROR_TYPES: ReadonlySet<string> = new Set([
  "invalid_request_error",
  "authentication_error",
  "permission_error",
  "not_found_error",
  "rate_limit_error",
  "insufficient_quota",
  "server_error",
]);

export function mapErrorType(type: unknown): string {
  return typeof type === "string" && UPSTREAM_ERROR_TYPES.has(type) ? type : "upstream_error";
}

export function mapErrorCode(code: unknown): string | null {
  return typeof code === "string" && UPSTREAM_ERROR_CODES.has(code) ? code : null;
}

/** A parameter path made only of known parameter names, known field names and indexes; else null. */
export function mapErrorParam(param: unknown): string | null {
  if (typeof param !== "string" || param.length > 128) return null;
  const [root, ...rest] = param.match(/[^.[\]]+|\[\d{1,5}\]/g) ?? [];
  if (!root || !KNOWN_PARAMETERS.has(root)) return null;
  if (!rest.every((segment) => segment.startsWith("[") || PARAM_FIELDS.has(segment))) return null;
  const rebuilt = [root, ...rest.map((segment) => (segment.startsWith("[") ? segment : `.${segment}`))].join("");
  return rebuilt === param ? rebuilt : null;
}
