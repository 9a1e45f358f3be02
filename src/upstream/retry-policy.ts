// The OpenAI SDK's retry policy (see the wire notes): what to retry, and how long to wait.

import type { OpenAIErrorBody } from "../protocol/types.js";

const MAX_HONOURED_RETRY_AFTER_MS = 60_000;

/** DMXAPI answers 503 when no channel serves the model name: a typo that no retry will fix. */
export function isUnknownModelError(status: number, body: OpenAIErrorBody | null): boolean {
  if (status !== 503 && status !== 404) return false;
  const code = body?.error.code;
  const message = body?.error.message ?? "";
  return code === "model_not_found" || /无可用渠道|no available channel|model .*(not found|does not exist)/i.test(message);
}

export function isRetryable(status: number, headers: Headers, body: OpenAIErrorBody | null): boolean {
  const override = headers.get("x-should-retry");
  if (override === "true") return true;
  if (override === "false") return false;
  if (status === 429) return body?.error.code !== "insufficient_quota" && body?.error.type !== "insufficient_quota";
  if (status === 503 && isUnknownModelError(status, body)) return false;
  return status === 408 || status === 409 || status >= 500;
}

/** Delay before retry number `attempt` (0-based), honouring the server's hint when it is sane. */
export function retryDelayMs(attempt: number, headers: Headers | null, random: () => number = Math.random): number {
  const hinted = hintedDelayMs(headers);
  if (hinted !== null) return hinted;
  const base = Math.min(500 * 2 ** attempt, 8_000);
  return Math.round(base * (1 - random() * 0.25));
}

function hintedDelayMs(headers: Headers | null): number | null {
  if (!headers) return null;
  const milliseconds = Number.parseFloat(headers.get("retry-after-ms") ?? "");
  if (Number.isFinite(milliseconds) && milliseconds >= 0 && milliseconds <= MAX_HONOURED_RETRY_AFTER_MS) {
    return milliseconds;
  }
  const retryAfter = headers.get("retry-after");
  if (retryAfter === null) return null;
  const seconds = Number.parseFloat(retryAfter);
  const fromHeader = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
  return Number.isFinite(fromHeader) && fromHeader >= 0 && fromHeader <= MAX_HONOURED_RETRY_AFTER_MS ? fromHeader : null;
}
