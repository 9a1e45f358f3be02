import { describe, expect, it } from "vitest";
import type { TestEnv } from "./support/app.js";
import { appRequests, CLIENT_KEY, testEnv, useAppHooks } from "./support/app.js";

const { call, callWith, settle } = appRequests();

function chat(body: unknown, headers: Record<string, string> = {}, env?: TestEnv): Promise<Response> {
  return call(
    "/v1/chat/completions",
    { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) },
    env,
  );
}

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | number | null };
}

interface CompletionBody {
  id: string;
  object: string;
  model: string;
  conversation_id: string;
  choices: Array<{ message: { role: string; content: string | null }; finish_reason: string }>;
  usage: { total_tokens: number } | null;
}

useAppHooks(settle);

describe("app", () => {
  it("answers /healthz", async () => {
    const response = await call("/healthz", { headers: { Authorization: "" } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("answers a chat completion from the offline model with a new conversation id", async () => {
    const response = await chat({ messages: [{ role: "user", content: "hello" }] });
    expect(response.status).toBe(200);
    const body = (await response.json()) as CompletionBody;
    expect(body.object).toBe("chat.completion");
    expect(body.model).toBe("switchboard-offline");
    expect(body.choices[0]!.message.role).toBe("assistant");
    expect(body.choices[0]!.message.content).toMatch(/^\[offline model\] /);
    expect(body.choices[0]!.finish_reason).toBe("stop");
    expect(body.conversation_id).toMatch(/^conv_[A-Za-z0-9]{24}$/);
    expect(response.headers.get("X-Conversation-Id")).toBe(body.conversation_id);
    expect(response.headers.get("X-Request-Id")).toMatch(/^req_[A-Za-z0-9]{20}$/);
    expect(body.usage?.total_tokens).toBeGreaterThan(0);
  });

  it("stores the turn and continues the conversation it names", async () => {
    const first = (await (await chat({ messages: [{ role: "user", content: "hello" }] })).json()) as CompletionBody;
    const id = first.conversation_id;
    const second = await chat({ conversation_id: id, messages: [{ role: "user", content: "hello again" }] });
    expect(second.status).toBe(200);
    expect(((await second.json()) as CompletionBody).conversation_id).toBe(id);
    const stored = await call(`/v1/conversations/${id}`);
    expect(stored.status).toBe(200);
    const conversation = (await stored.json()) as { messages: Array<{ role: string; content: string }>; turns: unknown[] };
    expect(conversation.turns).toHaveLength(2);
    expect(conversation.messages.map((message) => message.role)).toEqual(["user", "assistant", "user", "assistant"]);
    expect(conversation.messages[2]!.content).toBe("hello again");
  });

  it("takes the conversation id from the X-Conversation-Id header", async () => {
    const response = await chat({ messages: [{ role: "user", content: "hello" }] }, { "X-Conversation-Id": "conv_from_header" });
    expect(response.status).toBe(200);
    expect(response.headers.get("X-Conversation-Id")).toBe("conv_from_header");
    expect(((await response.json()) as CompletionBody).conversation_id).toBe("conv_from_header");
  });

  it("accepts the same id in header and body", async () => {
    const response = await chat({ conversation_id: "conv_same", messages: [{ role: "user", content: "hello" }] }, { "X-Conversation-Id": "conv_same" });
    expect(response.status).toBe(200);
  });

  it("refuses a header and a body that name different conversations", async () => {
    const response = await chat({ conversation_id: "conv_body", messages: [{ role: "user", content: "hello" }] }, { "X-Conversation-Id": "conv_header" });
    expect(response.status).toBe(400);
    const body = (await response.json()) as ErrorBody;
    expect(body.error).toMatchObject({ type: "invalid_request_error", param: "conversation_id" });
  });

  it("refuses an invalid conversation id in the header", async () => {
    const response = await chat({ messages: [{ role: "user", content: "hello" }] }, { "X-Conversation-Id": "not a valid id!" });
    expect(response.status).toBe(400);
    expect(((await response.json()) as ErrorBody).error.param).toBe("conversation_id");
  });

  it("answers a body that is not JSON with a 400 OpenAI error", async () => {
    const response = await chat('{"messages": [');
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toContain("application/json");
    const body = (await response.json()) as ErrorBody;
    expect(body.error).toMatchObject({ type: "invalid_request_error", code: "invalid_json", param: null });
    expect(typeof body.error.message).toBe("string");
  });

  it("answers a JSON body that is not an object with a 400", async () => {
    const response = await chat("[1,2]");
    expect(response.status).toBe(400);
    expect(((await response.json()) as ErrorBody).error.code).toBe("invalid_json");
  });

  it("names the parameter of a schema problem", async () => {
    const response = await chat({ messages: [] });
    expect(response.status).toBe(400);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.param).toBe("messages");
    const badRole = await chat({ messages: [{ role: "robot", content: "x" }] });
    expect(badRole.status).toBe(400);
    expect(((await badRole.json()) as ErrorBody).error.param).toBe("messages[0].role");
  });

  it("answers 503 upstream_not_configured without a DMXAPI key (it has no built-in model)", async () => {
    const response = await chat({ messages: [{ role: "user", content: "hello" }] }, {}, testEnv({ DMXAPI_API_KEY: undefined }));
    expect(response.status).toBe(503);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.code).toBe("upstream_not_configured");
  });

  it("refuses a body over MAX_BODY_BYTES with 413", async () => {
    const env = testEnv({ MAX_BODY_BYTES: "1024" });
    const big = JSON.stringify({ messages: [{ role: "user", content: "x".repeat(2000) }] });
    const response = await call(
      "/v1/chat/completions",
      { method: "POST", headers: { "Content-Type": "application/json", "Content-Length": String(big.length) }, body: big },
      env,
    );
    expect(response.status).toBe(413);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.code).toBe("request_too_large");
  });

  /** A chat request whose body streams in `chunks`, so it carries no Content-Length. */
  function chunkedChatRequest(chunks: string[]): Request {
    const encoder = new TextEncoder();
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const chunk = chunks.shift();
        if (chunk === undefined) controller.close();
        else controller.enqueue(encoder.encode(chunk));
      },
    });
    return new Request("https://switchboard.test/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${CLIENT_KEY}` },
      body: stream,
      duplex: "half",
    } as RequestInit & { duplex: "half" });
  }

  it("refuses a chunked body over MAX_BODY_BYTES with 413", async () => {
    const env = testEnv({ MAX_BODY_BYTES: "1024" });
    const request = chunkedChatRequest(['{"messages":[{"role":"user","content":"', "y".repeat(700), "y".repeat(700), '"}]}']);
    expect(request.headers.has("content-length")).toBe(false);
    const response = await callWith(request, env);
    expect(response.status).toBe(413);
    expect(((await response.json()) as ErrorBody).error.code).toBe("request_too_large");
  });

  it("accepts a chunked body under MAX_BODY_BYTES", async () => {
    const env = testEnv({ MAX_BODY_BYTES: "1024" });
    const request = chunkedChatRequest(['{"messages":[{"role":"user",', '"content":"hello"}]}']);
    const response = await callWith(request, env);
    expect(response.status).toBe(200);
  });

  it("lists DMXAPI_MODEL in GET /v1/models", async () => {
    const response = await call("/v1/models");
    expect(response.status).toBe(200);
    const body = (await response.json()) as { object: string; data: Array<{ id: string; object: string; owned_by: string }> };
    expect(body.object).toBe("list");
    expect(body.data.map((model) => model.id)).toEqual(["switchboard-offline"]);
    expect(body.data[0]).toMatchObject({ object: "model", owned_by: "dmxapi" });
  });

  it("lists the extra models after DMXAPI_MODEL, once each", async () => {
    const response = await call("/v1/models", {}, testEnv({ DMXAPI_MODEL: "gpt-5-mini", DMXAPI_MODELS: "deepseek-chat, gpt-5-mini" }));
    const body = (await response.json()) as { data: Array<{ id: string; owned_by: string }> };
    expect(body.data.map((model) => model.id)).toEqual(["gpt-5-mini", "deepseek-chat"]);
    expect(body.data[0]!.owned_by).toBe("dmxapi");
  });

  it("answers an unknown route with a 404 OpenAI error", async () => {
    const response = await call("/v1/nothing-here");
    expect(response.status).toBe(404);
    expect(((await response.json()) as ErrorBody).error.code).toBe("unknown_route");
  });

  it("keeps a sane X-Request-Id", async () => {
    const response = await call("/v1/models", { headers: { "X-Request-Id": "req_from_client-1" } });
    expect(response.headers.get("X-Request-Id")).toBe("req_from_client-1");
  });

  it("answers 404 for a conversation that does not exist", async () => {
    const response = await call("/v1/conversations/conv_missing");
    expect(response.status).toBe(404);
    expect(((await response.json()) as ErrorBody).error.code).toBe("conversation_not_found");
  });

  it("streams an offline answer as SSE ending with data: [DONE]", async () => {
    const response = await chat({ messages: [{ role: "user", content: "hello" }], stream: true, stream_options: { include_usage: true } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const text = await response.text();
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    const content = text
      .split("\n")
      .filter((line) => line.startsWith("data: {"))
      .map((line) => JSON.parse(line.slice(6)) as { choices: Array<{ delta?: { content?: string } }> })
      .flatMap((chunk) => chunk.choices.map((choice) => choice.delta?.content ?? ""))
      .join("");
    expect(content).toMatch(/^\[offline model\] /);
  });
});

describe("configuration checked on the first request", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["DMXAPI_BASE_URL", "gateway.example/v1", /DMXAPI_BASE_URL must be an http\(s\) URL such as https:\/\/www\.dmxapi\.cn\/v1\./],
    ["DMXAPI_BASE_URL", "ftp://example.com/v1", /DMXAPI_BASE_URL must be an http\(s\) URL/],
    ["SWITCHBOARD_API_KEYS", " , ,", /SWITCHBOARD_API_KEYS must be comma-separated keys, each `key` or `tenant:key`\./],
    ["MAX_STEPS", "abc", /MAX_STEPS must be a whole number \(e\.g\. 8\)\./],
    ["TOOL_TIMEOUT_MS", "1.5", /TOOL_TIMEOUT_MS must be a whole number/],
    ["STREAM_KEEPALIVE_MS", "soon", /STREAM_KEEPALIVE_MS must be a whole number/],
  ];
  for (const [variable, value, message] of cases) {
    it(`answers 503 invalid_configuration naming ${variable} for ${JSON.stringify(value)}, without the value or a stack`, async () => {
      const response = await chat({ messages: [{ role: "user", content: "hello" }] }, {}, testEnv({ [variable]: value }));
      expect(response.status).toBe(503);
      const body = (await response.json()) as ErrorBody;
      expect(body.error).toMatchObject({ type: "server_error", code: "invalid_configuration" });
      expect(body.error.message).toMatch(/^The orchestrator is misconfigured: /);
      expect(body.error.message).toMatch(message);
      if (value.trim().length > 2) expect(body.error.message).not.toContain(value.trim());
      expect(body.error.message).not.toMatch(/\bat \w+ \(|\.ts:\d+/);
    });
  }

  it("clamps a well-formed number out of range instead of refusing it", async () => {
    const response = await chat({ messages: [{ role: "user", content: "hello" }] }, {}, testEnv({ MAX_STEPS: "1000" }));
    expect(response.status).toBe(200);
  });
});
