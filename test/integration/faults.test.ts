// Fault injection and fuzzing. A scripted upstream and misbehaving tool Workers fail in every way
// we know of; a seeded fast-check run throws random bodies at the door. What must hold: tool faults
// never fail a turn, upstream faults end in a well-formed 429/502/504 (never a 500 or a hang), and a
// conversation never loses a completed turn.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { useSwitchboard } from "./support/harness.js";
import { type ChatHandler, completion, type JsonObject, reply, toolCall } from "./support/mock-upstream.js";

const switchboard = useSwitchboard({ vars: { DMXAPI_TIMEOUT_MS: "250", DMXAPI_MAX_RETRIES: "2", TOOL_TIMEOUT_MS: "300" } });

const retryNow = { "retry-after-ms": "0" };

/** Upstream faults that the retry policy absorbs (at most two per call). */
const transientFaults: Record<string, ChatHandler> = {
  rate_limited: reply.error(429, "Rate limit reached", { code: "rate_limit_exceeded" }, retryNow),
  server_error: reply.error(500, "internal", {}, retryNow),
  html_gateway_error: reply.json("<html><body>502 Bad Gateway</body></html>", 502, retryNow),
  empty_timeout: reply.json("", 524, retryNow),
  not_json_200: reply.json('{"id": "chatcmpl-cut', 200),
  hang_past_timeout: async () => {
    await new Promise((resolve) => setTimeout(resolve, 600));
    return Response.json(completion({ content: "too late" }));
  },
};

const toolFaults = ["fail", "hang", "not_json", "huge"] as const;

async function post(body: unknown): Promise<Response> {
  return switchboard.request("/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

describe("fault injection", () => {
  it("completes every turn through transient upstream faults and misbehaving tools, and loses no turn", async () => {
    const plan = fc.sample(
      fc.record({
        upstream: fc.array(fc.constantFrom(...Object.keys(transientFaults)), { maxLength: 2 }),
        tools: fc.array(fc.constantFrom(...toolFaults), { minLength: 1, maxLength: 3 }),
        stream: fc.boolean(),
      }),
      { numRuns: 8, seed: 4242 },
    );
    const statuses: number[] = [];
    for (const [turn, faults] of plan.entries()) {
      switchboard.upstream.enqueue(
        ...faults.upstream.map((name) => transientFaults[name]!),
        reply.toolCalls(...faults.tools.map((mode) => toolCall("flaky", { mode, size: 40_000 }))),
      );
      const response = await post({
        model: "gpt-5-mini",
        conversation_id: "conv_faults",
        stream: faults.stream,
        messages: [{ role: "user", content: `turn ${turn}` }],
      });
      const text = await response.text();
      statuses.push(response.status);
      if (faults.stream) expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    }

    expect(statuses.every((status) => status === 200)).toBe(true);
    const stored = (await (await switchboard.request("/v1/conversations/conv_faults")).json()) as {
      turns: Array<{ incomplete: boolean }>;
      messages: JsonObject[];
    };
    expect(stored.turns).toHaveLength(plan.length);
    expect(stored.turns.every((turn) => !turn.incomplete)).toBe(true);
    // Every tool call in the stored history has exactly one answer right after it.
    const messages = stored.messages;
    for (const [index, message] of messages.entries()) {
      if (message.role !== "assistant" || !Array.isArray(message.tool_calls)) continue;
      const ids = (message.tool_calls as JsonObject[]).map((call) => call.id);
      expect(messages.slice(index + 1, index + 1 + ids.length).map((answer) => answer.tool_call_id)).toEqual(ids);
    }
  });

  for (const [name, handler] of Object.entries(transientFaults)) {
    it(`answers a persistent "${name}" upstream fault with a well-formed 429/502/504, and keeps the conversation as it was`, async () => {
      await post({ model: "gpt-5-mini", conversation_id: `conv_persistent_${name}`, messages: [{ role: "user", content: "before" }] });
      switchboard.upstream.enqueue(handler, handler, handler);

      const response = await post({ model: "gpt-5-mini", conversation_id: `conv_persistent_${name}`, messages: [{ role: "user", content: "during" }] });

      expect(response.status).toBe(name === "rate_limited" ? 429 : name === "hang_past_timeout" || name === "empty_timeout" ? 504 : 502);
      const body = (await response.json()) as { error: JsonObject };
      expect(body.error).toMatchObject({ type: expect.any(String), message: expect.any(String) });
      const stored = (await (await switchboard.request(`/v1/conversations/conv_persistent_${name}`)).json()) as { turns: unknown[] };
      expect(stored.turns).toHaveLength(1);
    });
  }
});

describe("fuzzing request bodies", () => {
  const jsonValue = fc.jsonValue({ maxDepth: 3 });
  const message = fc.record(
    {
      role: fc.oneof(fc.constantFrom("system", "user", "assistant", "tool", "developer", "robot"), jsonValue),
      content: fc.oneof(fc.string({ maxLength: 40 }), fc.constant(null), jsonValue),
      tool_call_id: fc.oneof(fc.string({ maxLength: 8 }), jsonValue),
      tool_calls: fc.oneof(fc.constant(undefined), fc.array(jsonValue, { maxLength: 2 })),
    },
    { requiredKeys: ["role"] },
  );
  const chatLike = fc.record(
    {
      model: fc.oneof(fc.constant("gpt-5-mini"), jsonValue),
      messages: fc.oneof(fc.array(message, { maxLength: 4 }), jsonValue),
      tools: fc.oneof(fc.array(fc.record({ type: fc.constantFrom("function", "web"), function: jsonValue }), { maxLength: 2 }), jsonValue),
      tool_choice: jsonValue,
      stream: fc.oneof(fc.boolean(), jsonValue),
      stream_options: jsonValue,
      conversation_id: fc.oneof(fc.string({ maxLength: 20 }), jsonValue),
      server_tools: fc.oneof(fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }), jsonValue),
      n: jsonValue,
    },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    chatLike.map((value) => JSON.stringify(value)),
    jsonValue.map((value) => JSON.stringify(value)),
    fc.string({ maxLength: 60 }),
  );

  it("answers every body with a 2xx or a 4xx in OpenAI format: never a 5xx, never a hang", async () => {
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        const response = await post(text);
        const received = await response.text();
        expect(response.status).toBeLessThan(500);
        if (response.status >= 400) {
          const parsed = JSON.parse(received) as { error: JsonObject };
          expect(typeof parsed.error.message).toBe("string");
          expect(typeof parsed.error.type).toBe("string");
        }
      }),
      { numRuns: 150, seed: 20261123, interruptAfterTimeLimit: 60_000 },
    );
  }, 90_000);
});
