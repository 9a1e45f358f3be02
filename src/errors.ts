// One error type for everything the HTTP layer answers with: an OpenAI-style error body and a status.
// `app.onError` turns it into the response; anything else becomes a generic 500 without details.

import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { OpenAIErrorBody } from "./protocol/types.js";

export type ErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "conflict_error"
  | "rate_limit_error"
  | "upstream_error"
  | "timeout_error"
  | "server_error";

export class ApiError extends HTTPException {
  readonly body: OpenAIErrorBody;
  readonly headers: Record<string, string>;

  constructor(
    status: ContentfulStatusCode,
    message: string,
    options: { type?: ErrorType | string; param?: string | null; code?: string | number | null; headers?: Record<string, string> } = {},
  ) {
    super(status, { message });
    this.headers = options.headers ?? {};
    this.body = {
      error: {
        message,
        type: options.type ?? defaultType(status),
        param: options.param ?? null,
        code: options.code ?? null,
      },
    };
  }

  override getResponse(): Response {
    return Response.json(this.body, { status: this.status, headers: this.headers });
  }
}

function defaultType(status: number): ErrorType {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 409) return "conflict_error";
  if (status === 429) return "rate_limit_error";
  if (status === 504) return "timeout_error";
  if (status === 502 || status === 503) return "upstream_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

export function invalidRequest(message: string, param: string | null = null, code: string | null = null): ApiError {
  return new ApiError(400, message, { type: "invalid_request_error", param, code });
}
