// Who may call, what each tenant may see, every configurable limit, tool allowlists, fallback
// models, Idempotency-Key, and logs that never hold a key.

import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KEYS, type Switchboard, startSwitchboard, useSwitchboard } from "./support/harness.js";
import { completion, type JsonObject, reply, sseResponse, toChunks, toolCall } from "./support/mock-upstream.js";

const switchboard = useSwitchboard({ vars: { MAX_TOOL_CALLS_PER_STEP: "2", DMXAPI_FALLBACK_MODELS: "backup-model" } });

const hello = { model: "gpt-5-mini", messages: [{ role: "user", content: "hello" }] };

function post(body: unknown, headers: Record<string, string> = {}, on: Switchboard = switchboard): Promise<Response> {
  return on.request("/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function errorOf(response: Response): Promise<JsonObject> {
  const body = (await response.json()) as { error: JsonObject };
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  return body.error;
}

function toolNamesOffered(call = 0): string[] | undefined {
  const tools = switchboard.upstream.chatCalls[call]!.body.tools as Array<{ function: { name: string } }> | undefined;
  return tools?.map((tool) => tool.function.name).sort();
}

describe("authentication", () => {
  it("leaves /healthz open", async () => {
    const response = await fetch(new URL("/healthz", switchboard.url));
    expect(response.status).toBe(200);
  });

  for (const [method, path] of [
    ["POST", "/v1/chat/completions"],
    ["GET", "/v1/models"],
    ["GET", "/v1/tools"],
    ["GET", "/v1/conversations/x"],
    ["DELETE", "/v1/conversations/x"],
  ] as const) {
    it(`refuses ${method} ${path} without a key, in OpenAI format`, async () => {
      const response = await fetch(new URL(path, switchboard.url), { method, body: method === "POST" ? JSON.stringify(hello) : null });
      expect(response.status).toBe(401);
      expect(await errorOf(response)).toMatchObject({ code: "missing_api_key", type: "invalid_request_error" });
    });
  }

  it("refuses a wrong key with 401 and the openai client's AuthenticationError", async () => {
    const error = await switchboard
      .client("sk-wrong")
      .chat.completions.create(hello as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(switchboard.upstream.chatCalls).toHaveLength(0);
  });

  it("accepts every key of the list, so keys can rotate", async () => {
    await switchboard.client(KEYS.tenantB).chat.completions.create(hello as OpenAI.ChatCompletionCreateParamsNonStreaming);
    await switchboard.client(KEYS.tenantA).chat.completions.create(hello as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(switchboard.upstream.chatCalls).toHaveLength(2);
  });

  it("refuses every request when no keys are configured", async () => {
    const closed = await startSwitchboard({ vars: { SWITCHBOARD_API_KEYS: "" } });
    try {
      const response = await post(hello, {}, closed);
      expect(response.status).toBe(503);
      expect(await errorOf(response)).toMatchObject({ code: "auth_not_configured" });
      expect(closed.upstream.chatCalls).toHaveLength(0);
    } finally {
      await closed.dispose();
    }
  });
});

describe("tenancy", () => {
  it("keeps each tenant's conversations to itself", async () => {
    await post({ ...hello, conversation_id: "conv_shared_name", messages: [{ role: "user", content: "secret of A" }] });
    const asB = { Authorization: `Bearer ${KEYS.tenantB}` };

    expect((await switchboard.request("/v1/conversations/conv_shared_name", { headers: asB })).status).toBe(404);
    expect((await switchboard.request("/v1/conversations/conv_shared_name", { method: "DELETE", headers: asB })).status).toBe(404);

    // B using the same id gets a conversation of its own, without A's history.
    await post({ ...hello, conversation_id: "conv_shared_name", messages: [{ role: "user", content: "B here" }] }, asB);
    const sent = switchboard.upstream.chatCalls.at(-1)!.body.messages as JsonObject[];
    expect(sent).toEqual([{ role: "user", content: "B here" }]);
    const a = (await (await switchboard.request("/v1/conversations/conv_shared_name")).json()) as { messages: JsonObject[] };
    expect(a.messages[0]).toEqual({ role: "user", content: "secret of A" });
  });
});

describe("limits", () => {
  let limited: Switchboard;
  beforeAll(async () => {
    limited = await startSwitchboard({
      vars: { MAX_BODY_BYTES: "2048", MAX_MESSAGES: "3", MAX_CONVERSATION_BYTES: "3000", MAX_TOOL_INVOCATIONS: "3", TURN_DEADLINE_MS: "500", MAX_STEPS: "5" },
    });
  });
  afterAll(async () => {
    await limited.dispose();
  });
  beforeEach(() => limited.upstream.reset());

  it("refuses a body over the size limit with 413", async () => {
    const response = await post({ ...hello, messages: [{ role: "user", content: "x".repeat(5000) }] }, {}, limited);
    expect(response.status).toBe(413);
    expect(await errorOf(response)).toMatchObject({ code: "request_too_large" });
  });

  it("refuses a chunked body over the size limit, without Content-Length, with 413", async () => {
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let index = 0; index < 10; index++) controller.enqueue(encoder.encode("x".repeat(500)));
        controller.close();
      },
    });
    const response = await limited.request("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(limited.upstream.chatCalls).toHaveLength(0);
  });

  it("refuses more messages than allowed with 400", async () => {
    const messages = Array.from({ length: 4 }, () => ({ role: "user", content: "hi" }));
    const response = await post({ ...hello, messages }, {}, limited);
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ code: "too_many_messages", param: "messages" });
  });

  it("answers calls beyond the per-step limit with an error instead of running them", async () => {
    switchboard.upstream.enqueue(
      reply.toolCalls(toolCall("calculate", { expression: "1" }), toolCall("calculate", { expression: "2" }), toolCall("calculate", { expression: "3" })),
    );
    await post(hello);
    const results = (switchboard.upstream.chatCalls[1]!.body.messages as JsonObject[])
      .filter((message) => message.role === "tool")
      .map((message) => JSON.parse(String(message.content)) as JsonObject);
    expect(results[0]).toMatchObject({ result: 1 });
    expect(results[1]).toMatchObject({ result: 2 });
    expect(results[2]).toMatchObject({ error: { type: "too_many_tool_calls" } });
  });

  it("stops tool Worker calls at the per-request invocation budget", async () => {
    // Discovery of 5 tools already spent the budget of 3 on a cold isolate, or the tools were cached:
    // either way no more than 3 service-binding invocations happen and the rest become errors.
    limited.upstream.enqueue(reply.toolCalls(...Array.from({ length: 4 }, (_, index) => toolCall("flaky", { mode: "echo", n: index }))));
    const response = await post(hello, {}, limited);
    expect(response.status).toBe(200);
    const results = (limited.upstream.chatCalls.at(-1)!.body.messages as JsonObject[])
      .filter((message) => message.role === "tool")
      .map((message) => String(message.content));
    expect(results.some((content) => content.includes("invocation_budget_exhausted"))).toBe(true);
  });

  it("ends a turn past its deadline with 504 and stores nothing", async () => {
    limited.upstream.enqueue(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      return Response.json(completion({ content: "too late" }));
    });
    const response = await post({ ...hello, conversation_id: "conv_deadline" }, {}, limited);
    expect(response.status).toBe(504);
    expect(await errorOf(response)).toMatchObject({ code: "turn_deadline_exceeded" });
    expect((await limited.request("/v1/conversations/conv_deadline")).status).toBe(404);
  });

  it("refuses to grow a conversation past its size limit with 413 and keeps what it had", async () => {
    let status = 200;
    let turns = 0;
    while (status === 200 && turns < 20) {
      limited.upstream.enqueue(reply.text("y".repeat(400)));
      status = (await post({ ...hello, conversation_id: "conv_full", messages: [{ role: "user", content: `turn ${turns}` }] }, {}, limited)).status;
      if (status === 200) turns += 1;
    }
    expect(status).toBe(413);
    const stored = (await (await limited.request("/v1/conversations/conv_full")).json()) as { turns: unknown[] };
    expect(stored.turns).toHaveLength(turns);
  });
});

describe("tool allowlist", () => {
  it("offers only the server tools the request allows", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", { location: "Paris" })));
    await post({ ...hello, server_tools: ["calculate"] });
    expect(toolNamesOffered()).toEqual(["calculate"]);
    expect(switchboard.upstream.chatCalls[0]!.body.server_tools).toBeUndefined();
    const result = (switchboard.upstream.chatCalls[1]!.body.messages as JsonObject[]).find((message) => message.role === "tool")!;
    expect(JSON.parse(String(result.content))).toMatchObject({ error: { type: "unknown_tool" } });
    expect(switchboard.upstream.openMeteoCalls).toHaveLength(0);
  });

  it("offers no tools for an empty allowlist", async () => {
    await post({ ...hello, server_tools: [] });
    expect(toolNamesOffered()).toBeUndefined();
  });

  it("marks tools with side effects in their definition", async () => {
    const tools = (await (await switchboard.request("/v1/tools")).json()) as {
      data: Array<{ function: { name: string }; metadata: { side_effects: boolean } }>;
    };
    expect(Object.fromEntries(tools.data.map((tool) => [tool.function.name, tool.metadata.side_effects]))).toMatchObject({
      notes: true,
      calculate: false,
      get_current_weather: false,
    });
  });
});

describe("fallback models", () => {
  it("moves to the fallback model when the requested one keeps failing", async () => {
    const unavailable = { "retry-after-ms": "0" };
    switchboard.upstream.enqueue(
      ...[1, 2, 3].map(() => reply.error(503, "overloaded", {}, unavailable)),
      reply.json(completion({ content: "from backup" }, { extra: { model: "backup-model" } })),
    );

    const response = await switchboard.openai.chat.completions.create(hello as OpenAI.ChatCompletionCreateParamsNonStreaming);

    expect(response.choices[0]!.message.content).toBe("from backup");
    expect(switchboard.upstream.chatCalls.map((call) => call.body.model)).toEqual(["gpt-5-mini", "gpt-5-mini", "gpt-5-mini", "backup-model"]);
  });

  it("names every model that failed when all of them do", async () => {
    const unavailable = { "retry-after-ms": "0" };
    switchboard.upstream.enqueue(...Array.from({ length: 6 }, () => reply.error(503, "overloaded", {}, unavailable)));
    const response = await post(hello);
    expect(response.status).toBe(503);
    const error = await errorOf(response);
    expect(error.message).toMatch(/gpt-5-mini: .*overloaded.*backup-model: .*overloaded/);
  });

  it("does not fall back on the client's own mistakes", async () => {
    switchboard.upstream.enqueue(reply.error(400, "bad temperature", { param: "temperature" }));
    expect((await post(hello)).status).toBe(400);
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
  });
});

describe("Idempotency-Key", () => {
  it("replays the same response for the same key and body without a second upstream call", async () => {
    switchboard.upstream.enqueue(reply.text("only once"));
    const first = await post(hello, { "Idempotency-Key": "idem-1" });
    const firstBody = await first.json();
    const second = await post(hello, { "Idempotency-Key": "idem-1" });

    expect(second.status).toBe(200);
    expect(await second.json()).toEqual(firstBody);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
  });

  it("replays a streamed response as a stream", async () => {
    switchboard.upstream.enqueue(reply.text("streamed once"));
    const body = { ...hello, stream: true };
    await (await post(body, { "Idempotency-Key": "idem-stream" })).text();
    const replay = await (await post(body, { "Idempotency-Key": "idem-stream" })).text();
    expect(replay).toContain("streamed once");
    expect(replay.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
  });

  it("refuses the same key with a different body with 422", async () => {
    await post(hello, { "Idempotency-Key": "idem-2" });
    const response = await post({ ...hello, messages: [{ role: "user", content: "other" }] }, { "Idempotency-Key": "idem-2" });
    expect(response.status).toBe(422);
    expect(await errorOf(response)).toMatchObject({ code: "idempotency_key_reused" });
  });

  it("makes a concurrent duplicate wait for the first request and replay its answer", async () => {
    switchboard.upstream.enqueue(async (body) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return body.stream ? sseResponse(toChunks(completion({ content: "slow" }))) : Response.json(completion({ content: "slow" }));
    });
    const first = post(hello, { "Idempotency-Key": "idem-3" });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await post(hello, { "Idempotency-Key": "idem-3" });
    expect(second.status).toBe(200);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(await second.json()).toEqual(await (await first).json());
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
  });

  it("is scoped to the tenant", async () => {
    await post(hello, { "Idempotency-Key": "idem-4" });
    await post(hello, { "Idempotency-Key": "idem-4", Authorization: `Bearer ${KEYS.tenantB}` });
    expect(switchboard.upstream.chatCalls).toHaveLength(2);
  });
});

describe("logs", () => {
  it("writes JSON lines with request id, tenant, conversation, tool and status, and never a key", async () => {
    switchboard.upstream.enqueue(
      reply.toolCalls(toolCall("calculate", { expression: "1+1" })),
      reply.error(401, `Incorrect API key provided: ${KEYS.dmxapi} (request id: 99)`, { code: "invalid_api_key" }),
    );
    const before = switchboard.logs.length;
    const response = await post(hello, { "X-Request-Id": "req-log-test" });
    await switchboard.request("/v1/models", { headers: { Authorization: `Bearer ${KEYS.tenantB}` } });
    await switchboard.request("/v1/models", { headers: { Authorization: "Bearer sk-some-wrong-key-123" } });
    await new Promise((resolve) => setTimeout(resolve, 200));

    // The upstream echoed our DMXAPI key in its error: the client must not see it either.
    expect(response.status).toBe(502);
    const error = await errorOf(response);
    expect(String(error.message)).not.toContain(KEYS.dmxapi);
    expect(String(error.message)).toContain("[REDACTED]");

    const lines = switchboard.logs.slice(before);
    const all = switchboard.logs.join("\n");
    for (const key of [...Object.values(KEYS), "sk-some-wrong-key-123"]) expect(all).not.toContain(key);
    const parsed = lines.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as JsonObject);
    const tool = parsed.find((line) => line.event === "tool_call" && line.request_id === "req-log-test");
    expect(tool).toMatchObject({
      tenant: "tenant-a",
      tool: "calculate",
      ok: true,
      step: 1,
      duration_ms: expect.any(Number),
      conversation_id: expect.stringMatching(/^conv_/),
    });
    const request = parsed.find((line) => line.event === "request" && line.request_id === "req-log-test");
    expect(request).toMatchObject({ tenant: "tenant-a", status: 502, method: "POST", path: "/v1/chat/completions" });
  });
});
