// How DMXAPI's failures reach the client: retried where the policy says so, then surfaced in
// OpenAI's error format with a status that says whose problem it is. Nothing is stored on failure.

import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { useSwitchboard } from "./support/harness.js";
import { type JsonObject, reply, toolCall } from "./support/mock-upstream.js";

const switchboard = useSwitchboard();

const immediately = { "retry-after-ms": "0" };

async function post(body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: JsonObject; headers: Headers }> {
  const response = await switchboard.request("/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as JsonObject, headers: response.headers };
}

const hello = { model: "gpt-5-mini", messages: [{ role: "user", content: "hello" }] };

describe("retries", () => {
  it("retries 429 and 5xx answers and succeeds", async () => {
    switchboard.upstream.enqueue(
      reply.error(429, "Rate limit reached (request id: 123)", { code: "rate_limit_exceeded" }, immediately),
      reply.json("<html>bad gateway</html>", 502, immediately),
      reply.text("finally"),
    );

    const response = await switchboard.openai.chat.completions.create(hello as OpenAI.ChatCompletionCreateParamsNonStreaming);

    expect(response.choices[0]!.message.content).toBe("finally");
    expect(switchboard.upstream.chatCalls).toHaveLength(3);
  });

  it("waits the backoff when the upstream gives no hint", async () => {
    switchboard.upstream.enqueue(reply.error(500, "boom"), reply.text("ok"));

    const before = switchboard.logs.length;
    await switchboard.openai.chat.completions.create(hello as OpenAI.ChatCompletionCreateParamsNonStreaming);

    // The first backoff is 0.5 s less up to 25% jitter, as the retry line logs it.
    const retries = switchboard.logs
      .slice(before)
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { event?: string; delay_ms?: number })
      .filter((line) => line.event === "upstream_retry");
    expect(retries).toHaveLength(1);
    expect(retries[0]!.delay_ms).toBeGreaterThanOrEqual(375);
    expect(retries[0]!.delay_ms).toBeLessThanOrEqual(500);
    expect(switchboard.upstream.chatCalls).toHaveLength(2);
  });

  it("gives up after two retries with a 502 naming the upstream failure", async () => {
    switchboard.upstream.enqueue(...[1, 2, 3].map(() => reply.error(500, "upstream broke", {}, immediately)));

    const result = await post(hello);

    expect(result.status).toBe(502);
    expect(result.body).toEqual({ error: { message: expect.stringContaining("upstream broke"), type: "upstream_error", param: null, code: null } });
    expect(switchboard.upstream.chatCalls).toHaveLength(3);
  });

  it("honours x-should-retry: false", async () => {
    switchboard.upstream.enqueue(reply.error(500, "do not retry me", {}, { "x-should-retry": "false" }));

    const result = await post(hello);

    expect(result.status).toBe(502);
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
  });
});

describe("non-retryable errors", () => {
  it("passes a 400 through to the client without retrying", async () => {
    switchboard.upstream.enqueue(
      reply.error(400, "Unsupported parameter: 'max_tokens'", { type: "invalid_request_error", param: "max_tokens", code: "unsupported_parameter" }),
    );

    const error = await switchboard.openai.chat.completions.create(hello as OpenAI.ChatCompletionCreateParamsNonStreaming).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ param: "max_tokens", code: "unsupported_parameter" });
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
  });

  it("answers 502 when DMXAPI rejects the orchestrator's key", async () => {
    switchboard.upstream.enqueue(reply.error(401, "Incorrect API key provided", { type: "invalid_request_error", code: "invalid_api_key" }));

    const result = await post(hello);

    expect(result.status).toBe(502);
    expect(result.body.error).toMatchObject({ message: expect.stringContaining("rejected the orchestrator's API key") });
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
  });

  it("does not retry a 429 for exhausted quota", async () => {
    switchboard.upstream.enqueue(reply.error(429, "You exceeded your current quota", { type: "insufficient_quota", code: "insufficient_quota" }, immediately));

    const result = await post(hello);

    expect(result.status).toBe(429);
    expect(result.body.error).toMatchObject({ code: "insufficient_quota" });
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
  });

  it("answers 404 model_not_found for DMXAPI's 503 on an unknown model name, without retrying", async () => {
    switchboard.upstream.enqueue(
      reply.error(503, "当前分组 default 下对于模型 gpt-5-minii 无可用渠道 (request id: 2025)", { type: "new_api_error", code: "" }),
    );

    const result = await post({ ...hello, model: "gpt-5-minii" });

    expect(result.status).toBe(404);
    expect(result.body.error).toMatchObject({ code: "model_not_found", type: "invalid_request_error" });
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
  });

  it("stores nothing when the turn fails after a tool step", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("calculate", { expression: "1+1" })), reply.error(400, "bad follow-up"));

    const result = await post({ ...hello, conversation_id: "conv_failed_turn" });

    expect(result.status).toBe(400);
    const stored = await switchboard.request("/v1/conversations/conv_failed_turn");
    expect(stored.status).toBe(404);
  });
});
