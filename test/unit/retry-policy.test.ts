import { describe, expect, it } from "vitest";
import type { OpenAIErrorBody } from "../../src/protocol/types.js";
import { isRetryable, isUnknownModelError, retryDelayMs } from "../../src/upstream/retry-policy.js";

const none = new Headers();
const errorBody = (code: string | number | null, message = "failed", type = "upstream_error"): OpenAIErrorBody => ({
  error: { message, type, param: null, code },
});

describe("isRetryable", () => {
  it.each([408, 409, 429, 500, 502, 503, 504, 524])("retries HTTP %i", (status) => {
    expect(isRetryable(status, none, null)).toBe(true);
  });

  it.each([400, 401, 403, 404, 413, 422])("does not retry HTTP %i", (status) => {
    expect(isRetryable(status, none, null)).toBe(false);
  });

  it("retries a 429 rate limit", () => {
    expect(isRetryable(429, none, errorBody("rate_limit_exceeded", "Rate limit reached", "requests"))).toBe(true);
  });

  it("does not retry a 429 for an exhausted quota (code)", () => {
    expect(isRetryable(429, none, errorBody("insufficient_quota", "You exceeded your current quota"))).toBe(false);
  });

  it("does not retry a 429 for an exhausted quota (type)", () => {
    expect(isRetryable(429, none, errorBody(null, "You exceeded your current quota", "insufficient_quota"))).toBe(false);
  });

  it("does not retry a 503 for an unknown model (DMXAPI: no channel)", () => {
    expect(isRetryable(503, none, errorBody(null, "当前分组 default 下对于模型 gpt-5-minii 无可用渠道 (request id: x)"))).toBe(false);
    expect(isRetryable(503, none, errorBody("model_not_found", "The model does not exist"))).toBe(false);
  });

  it("retries a 503 that is not about the model", () => {
    expect(isRetryable(503, none, errorBody(null, "Service temporarily unavailable"))).toBe(true);
  });

  it("retries a non-retryable status when x-should-retry is true", () => {
    expect(isRetryable(400, new Headers({ "x-should-retry": "true" }), null)).toBe(true);
    expect(isRetryable(429, new Headers({ "x-should-retry": "true" }), errorBody("insufficient_quota"))).toBe(true);
  });

  it("does not retry a retryable status when x-should-retry is false", () => {
    expect(isRetryable(500, new Headers({ "x-should-retry": "false" }), null)).toBe(false);
    expect(isRetryable(429, new Headers({ "x-should-retry": "false" }), null)).toBe(false);
  });

  it("ignores an x-should-retry value that is neither true nor false", () => {
    expect(isRetryable(500, new Headers({ "x-should-retry": "maybe" }), null)).toBe(true);
  });
});

describe("isUnknownModelError", () => {
  it("recognises model_not_found on 404 and 503 only", () => {
    expect(isUnknownModelError(404, errorBody("model_not_found"))).toBe(true);
    expect(isUnknownModelError(503, errorBody("model_not_found"))).toBe(true);
    expect(isUnknownModelError(400, errorBody("model_not_found"))).toBe(false);
  });

  it("recognises the English 'no available channel' message", () => {
    expect(isUnknownModelError(503, errorBody(null, "No available channel for model foo"))).toBe(true);
  });

  it("is false without a body", () => {
    expect(isUnknownModelError(503, null)).toBe(false);
  });
});

describe("retryDelayMs", () => {
  const noJitter = () => 0;

  it("honours retry-after-ms", () => {
    expect(retryDelayMs(0, new Headers({ "retry-after-ms": "1500" }), noJitter)).toBe(1500);
  });

  it("prefers retry-after-ms over retry-after", () => {
    expect(retryDelayMs(0, new Headers({ "retry-after-ms": "250", "retry-after": "10" }), noJitter)).toBe(250);
  });

  it("honours retry-after in seconds", () => {
    expect(retryDelayMs(0, new Headers({ "retry-after": "3" }), noJitter)).toBe(3000);
    expect(retryDelayMs(0, new Headers({ "retry-after": "0.5" }), noJitter)).toBe(500);
  });

  it("honours retry-after as an HTTP date", () => {
    const date = new Date(Date.now() + 10_000).toUTCString();
    const delay = retryDelayMs(0, new Headers({ "retry-after": date }), noJitter);
    // HTTP dates have one-second resolution.
    expect(delay).toBeGreaterThan(8_000);
    expect(delay).toBeLessThanOrEqual(10_000);
  });

  it("ignores retry-after values over 60 seconds", () => {
    expect(retryDelayMs(0, new Headers({ "retry-after": "61" }), noJitter)).toBe(500);
    expect(retryDelayMs(1, new Headers({ "retry-after-ms": "60001" }), noJitter)).toBe(1000);
    const far = new Date(Date.now() + 3_600_000).toUTCString();
    expect(retryDelayMs(2, new Headers({ "retry-after": far }), noJitter)).toBe(2000);
  });

  it("accepts exactly 60 seconds", () => {
    expect(retryDelayMs(0, new Headers({ "retry-after": "60" }), noJitter)).toBe(60_000);
  });

  it("ignores a retry-after date in the past and garbage values", () => {
    const past = new Date(Date.now() - 10_000).toUTCString();
    expect(retryDelayMs(0, new Headers({ "retry-after": past }), noJitter)).toBe(500);
    expect(retryDelayMs(0, new Headers({ "retry-after": "soon" }), noJitter)).toBe(500);
    expect(retryDelayMs(0, new Headers({ "retry-after-ms": "-5" }), noJitter)).toBe(500);
  });

  it("backs off exponentially, min(0.5 * 2^n, 8) seconds", () => {
    const delays = [0, 1, 2, 3, 4, 5, 10].map((attempt) => retryDelayMs(attempt, null, noJitter));
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it("backs off when headers carry no hint", () => {
    expect(retryDelayMs(1, new Headers(), noJitter)).toBe(1000);
  });

  it("subtracts up to 25% jitter", () => {
    expect(retryDelayMs(0, null, () => 0.5)).toBe(438); // 500 * (1 - 0.125) = 437.5
    expect(retryDelayMs(4, null, () => 1)).toBe(6000);
    for (let index = 0; index < 50; index++) {
      const delay = retryDelayMs(3, null);
      expect(delay).toBeGreaterThanOrEqual(3000);
      expect(delay).toBeLessThanOrEqual(4000);
    }
  });

  it("does not jitter a server hint", () => {
    expect(retryDelayMs(0, new Headers({ "retry-after": "2" }), () => 1)).toBe(2000);
  });
});
