import { describe, expect, it } from "vitest";
import { duration, limitsProblem, mergeLimits, takeRequest } from "../../src/keys/limits.js";

describe("a key's request bucket", () => {
  it("lets exactly the limit through in a burst, then one request per 60/limit seconds", () => {
    let bucket = null;
    let passed = 0;
    for (let index = 0; index < 100; index++) {
      const taken = takeRequest(bucket, 10, 1_000);
      bucket = taken.bucket;
      if (taken.ok) passed++;
    }
    expect(passed).toBe(10);
    const refused = takeRequest(bucket, 10, 1_000);
    expect(refused).toMatchObject({ ok: false, remaining: 0, retryAfterMs: 6_000, resetMs: 60_000 });
    expect(takeRequest(bucket, 10, 7_000).ok).toBe(true);
  });

  it("writes durations as OpenAI's reset headers do", () => {
    expect([duration(120), duration(6_000), duration(60_000), duration(359_500)]).toEqual(["120ms", "6s", "1m0s", "6m0s"]);
  });

  it("accepts whole limits from 1 (null removes one) and names anything else", () => {
    expect(limitsProblem({ requests_per_minute: 10, concurrent_turns: null })).toBeNull();
    expect(limitsProblem({ requests_per_minute: 0 })).toContain("requests_per_minute");
    expect(limitsProblem({ bytes_per_day: 5 })).toContain("bytes_per_day");
    expect(limitsProblem({ spend_usd_per_day: 0.05, tokens_per_day: 1000 })).toBeNull();
    expect(limitsProblem({ tokens_per_day: 0.5 })).toContain("tokens_per_day");
    expect(mergeLimits({ requests_per_minute: 5, concurrent_turns: 2 }, { requests_per_minute: null, concurrent_turns: 3 })).toEqual({ concurrent_turns: 3 });
  });
});

describe("prices", () => {
  it("reads MODEL_PRICES, refuses a malformed one, and costs a call from its usage with cached input at its own price", async () => {
    const { costOf, dearest, parsePrices } = await import("../../src/keys/pricing.js");
    const table = parsePrices(JSON.stringify({ a: { input: 1, output: 2 }, b: { input: 3, cached_input: 0.3, output: 1 } }));
    expect(typeof table).toBe("object");
    if (typeof table === "string") return;
    expect(table.a).toEqual({ input: 1, cached_input: 1, output: 2 });
    expect(costOf(table.b!, { prompt_tokens: 100, completion_tokens: 10, total_tokens: 110, prompt_tokens_details: { cached_tokens: 40 } })).toBeCloseTo(
      (60 * 3 + 40 * 0.3 + 10 * 1) / 1_000_000,
      12,
    );
    // A call that may fall back is reserved at the dearest of its models, part by part; an unpriced one has no price.
    expect(dearest(table, ["a", "b"])).toEqual({ input: 3, cached_input: 1, output: 2 });
    expect(dearest(table, ["a", "c"])).toBeNull();
    expect(typeof parsePrices('{"a": {"input": -1, "output": 2}}')).toBe("string");
    expect(typeof parsePrices("[1]")).toBe("string");
  });
});

describe("operator settings for limits", () => {
  it("refuses a malformed TENANT_LIMITS or MODEL_PRICES at start, naming the setting", async () => {
    const { ConfigError, readConfig } = await import("../../src/config.js");
    const read = (vars: Record<string, string>) => () => readConfig({ ...vars } as never);
    expect(read({ TENANT_LIMITS: '{"team": {"requests_per_minute": 0}}' })).toThrow(ConfigError);
    expect(read({ TENANT_LIMITS: '{"team": {"bogus": 1}}' })).toThrow(/TENANT_LIMITS/);
    expect(read({ MODEL_PRICES: '{"m": {"input": "cheap"}}' })).toThrow(/MODEL_PRICES/);
    expect(readConfig({ TENANT_LIMITS: '{"team": {"spend_usd_per_day": 2.5}}' } as never).tenantLimits).toEqual({ team: { spend_usd_per_day: 2.5 } });
  });
});
