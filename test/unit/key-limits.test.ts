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
    expect(limitsProblem({ tokens_per_day: 5 })).toContain("tokens_per_day");
    expect(mergeLimits({ requests_per_minute: 5, concurrent_turns: 2 }, { requests_per_minute: null, concurrent_turns: 3 })).toEqual({ concurrent_turns: 3 });
  });
});
