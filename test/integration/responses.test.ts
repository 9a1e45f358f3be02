// The Responses API door, driven by the clients that default to it: the official openai client
// (`responses.create`, `responses.stream`), the OpenAI Agents SDK with its default Responses model,
// and the Vercel AI SDK's default OpenAI provider. Every request runs the same loop as the chat door
// against the mock DMXAPI (Chat Completions); each test checks what the client got and what the
// upstream was sent.

import { createOpenAI } from "@ai-sdk/openai";
import { Agent, tool as agentTool, OpenAIProvider, Runner } from "@openai/agents";
import { generateText, stepCountIs, streamText, tool } from "ai";
import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { KEYS, useSwitchboard } from "./support/harness.js";
import { completion, type JsonObject, reply, toolCall } from "./support/mock-upstream.js";

const switchboard = useSwitchboard({ vars: { STREAM_KEEPALIVE_MS: "100", DMXAPI_MAX_RETRIES: "0" } });

type Message = JsonObject & { role: string; content?: unknown; tool_calls?: JsonObject[]; tool_call_id?: string };

function sent(call: number): Message[] {
  return switchboard.upstream.chatCalls[call]!.body.messages as Message[];
}

const roles = (messages: Message[]) => messages.map((message) => message.role);

/** The brief's weather function, declared by the client in the Responses shape. */
const weatherFunction: OpenAI.Responses.FunctionTool = {
  type: "function",
  name: "get_current_weather",
  description: "Get the current weather in a given location",
  parameters: {
    type: "object",
    properties: {
      location: { type: "string", description: "The city and state, e.g. San Francisco, CA" },
      unit: { type: "string", enum: ["celsius", "fahrenheit"] },
    },
    required: ["location"],
  },
  strict: false,
};

async function post(body: unknown, apiKey: string = KEYS.tenantA): Promise<Response> {
  return switchboard.request("/v1/responses", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${apiKey}` },
    body: JSON.stringify(body),
  });
}

describe("responses.create", () => {
  it("answers from the weather tool Worker, showing the server's call as an mcp_call it already ran", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", { location: "上海, 中国" }, "call_w1")));

    const response = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "上海今天几度?" });

    expect(response.object).toBe("response");
    expect(response.id).toMatch(/^resp_[A-Za-z0-9]+$/);
    expect(response.status).toBe("completed");
    expect(response.output_text).toContain("23.4");
    expect(response.output.map((item) => item.type)).toEqual(["mcp_call", "message"]);
    const [call, message] = response.output as [OpenAI.Responses.ResponseOutputItem.McpCall, OpenAI.Responses.ResponseOutputMessage];
    expect(call).toMatchObject({
      id: "call_w1",
      server_label: "switchboard",
      name: "get_current_weather",
      arguments: '{"location":"上海, 中国"}',
      error: null,
      status: "completed",
    });
    expect(JSON.parse(call.output!)).toMatchObject({ temperature: 23.4, source: "open-meteo.com" });
    expect(message).toMatchObject({ type: "message", role: "assistant", status: "completed" });
    expect(message.content[0]).toMatchObject({ type: "output_text", annotations: [] });
    expect(response.usage).toEqual({
      input_tokens: 20,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 10,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 30,
    });
    // One wire to the model: Chat Completions, with the server tools offered.
    expect(roles(sent(1))).toEqual(["user", "assistant", "tool"]);
    expect(switchboard.upstream.openMeteoCalls.map((url) => url.pathname)).toEqual(["/v1/search", "/v1/forecast"]);

    // The same conversation a chat client reads, and the response itself, stored.
    const conversationId = (response as unknown as { conversation: { id: string } }).conversation.id;
    const conversation = (await (await switchboard.request(`/v1/conversations/${conversationId}`)).json()) as { messages: Message[] };
    expect(roles(conversation.messages)).toEqual(["user", "assistant", "tool", "assistant"]);
    const again = await switchboard.openai.responses.retrieve(response.id);
    expect(again.output).toEqual(response.output);
  });

  it("returns the client's own function unexecuted as a function_call, then continues from its output with previous_response_id", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", { location: "Boston, MA" }, "call_brief")));

    const first = await switchboard.openai.responses.create({
      model: "gpt-5-mini",
      input: "What's the weather like in Boston today?",
      tools: [weatherFunction],
      tool_choice: "auto",
    });

    expect(first.status).toBe("completed");
    expect(first.output).toEqual([
      {
        type: "function_call",
        id: expect.stringMatching(/^fc_/),
        call_id: "call_brief",
        name: "get_current_weather",
        arguments: '{"location":"Boston, MA"}',
        status: "completed",
      },
    ]);
    expect(switchboard.upstream.openMeteoCalls).toEqual([]);
    const offered = switchboard.upstream.chatCalls[0]!.body.tools as Array<{ function: { name: string; description?: string } }>;
    expect(offered.filter((entry) => entry.function.name === "get_current_weather")).toEqual([
      {
        type: "function",
        function: { name: "get_current_weather", description: weatherFunction.description, parameters: weatherFunction.parameters, strict: false },
      },
    ]);

    switchboard.upstream.enqueue(reply.text("It is 22 degrees and sunny in Boston."));
    const second = await switchboard.openai.responses.create({
      model: "gpt-5-mini",
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: "call_brief", output: '{"temperature":22,"condition":"sunny"}' }],
      tools: [weatherFunction],
    });

    expect(second.output_text).toBe("It is 22 degrees and sunny in Boston.");
    expect(second.previous_response_id).toBe(first.id);
    const history = sent(1);
    expect(roles(history)).toEqual(["user", "assistant", "tool"]);
    expect(history[1]!.tool_calls).toEqual([
      { id: "call_brief", type: "function", function: { name: "get_current_weather", arguments: '{"location":"Boston, MA"}' } },
    ]);
    expect(history[2]).toEqual({ role: "tool", tool_call_id: "call_brief", content: '{"temperature":22,"condition":"sunny"}' });
    const conversation = (second as unknown as { conversation: { id: string } }).conversation.id;
    expect(conversation).toBe((first as unknown as { conversation: { id: string } }).conversation.id);
  });

  it("sends instructions as this turn's system prompt without storing them, and keeps metadata with the response only", async () => {
    switchboard.upstream.enqueue(reply.text("Bonjour !"));
    const first = await switchboard.openai.responses.create({
      model: "gpt-5-mini",
      instructions: "Answer in French.",
      input: [{ role: "user", content: [{ type: "input_text", text: "Hello" }] }],
      metadata: { order: "A-17" },
      temperature: 0.2,
      max_output_tokens: 300,
    });
    expect(sent(0)).toEqual([
      { role: "system", content: "Answer in French." },
      { role: "user", content: "Hello" },
    ]);
    const body = switchboard.upstream.chatCalls[0]!.body;
    expect(body).toMatchObject({ temperature: 0.2, max_completion_tokens: 300 });
    expect(body).not.toHaveProperty("metadata");
    expect(body).not.toHaveProperty("instructions");
    expect(first.metadata).toEqual({ order: "A-17" });
    expect((await switchboard.openai.responses.retrieve(first.id)).metadata).toEqual({ order: "A-17" });

    // Instructions are not carried over: the next turn's own replace them.
    switchboard.upstream.enqueue(reply.text("Hallo!"));
    await switchboard.openai.responses.create({ model: "gpt-5-mini", previous_response_id: first.id, instructions: "Answer in German.", input: "Hello again" });
    expect(sent(1)).toEqual([
      { role: "system", content: "Answer in German." },
      { role: "user", content: "Hello" },
      expect.objectContaining({ role: "assistant", content: "Bonjour !" }),
      { role: "user", content: "Hello again" },
    ]);
  });

  it("keeps nothing with store: false", async () => {
    switchboard.upstream.enqueue(reply.text("Not kept."));
    const response = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "Forget this", store: false });
    expect((response as unknown as { store: boolean }).store).toBe(false);
    expect((response as unknown as { conversation: unknown }).conversation).toBeNull();
    const retrieved = await switchboard.request(`/v1/responses/${response.id}`);
    expect(retrieved.status).toBe(404);
    const continued = await post({ input: "and?", previous_response_id: response.id });
    expect(continued.status).toBe(404);
    expect(((await continued.json()) as { error: JsonObject }).error).toMatchObject({ param: "previous_response_id", code: "response_not_found" });
  });
});

/** Reads a raw Responses stream: its events (each `event:` name must match the data's type) and comments. */
async function readEvents(response: Response): Promise<Array<JsonObject & { type: string; sequence_number: number }>> {
  const events: Array<JsonObject & { type: string; sequence_number: number }> = [];
  for (const block of (await response.text()).split("\n\n")) {
    const lines = block.split("\n");
    const name = lines.find((line) => line.startsWith("event: "))?.slice(7);
    const data = lines.find((line) => line.startsWith("data: "))?.slice(6);
    if (!data) continue;
    const event = JSON.parse(data) as JsonObject & { type: string; sequence_number: number };
    expect(name).toBe(event.type);
    events.push(event);
  }
  return events;
}

describe("responses.stream", () => {
  it("streams a server tool step and the answer, and finalResponse() is the stored response", async () => {
    switchboard.upstream.enqueue(
      reply.json(completion({ content: "Let me check. ", tool_calls: [toolCall("get_current_weather", { location: "上海, 中国" }, "call_s1")] })),
    );

    const stream = switchboard.openai.responses.stream({ model: "gpt-5-mini", input: "上海今天几度?" });
    const types: string[] = [];
    const sequence: number[] = [];
    let text = "";
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
      if (event.type === "response.output_text.delta") text += event.delta;
    }
    const final = await stream.finalResponse();

    expect(sequence).toEqual(sequence.map((_, index) => index));
    expect(types.slice(0, 2)).toEqual(["response.created", "response.in_progress"]);
    expect(types.at(-1)).toBe("response.completed");
    expect(types).toEqual(
      expect.arrayContaining([
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
      ]),
    );
    expect(final.output.map((item) => item.type)).toEqual(["message", "mcp_call", "message"]);
    expect(final.output[1]).toMatchObject({ type: "mcp_call", id: "call_s1", server_label: "switchboard", name: "get_current_weather", status: "completed" });
    expect(text).toBe(
      `Let me check. ${(final.output[2] as OpenAI.Responses.ResponseOutputMessage).content.map((part) => (part.type === "output_text" ? part.text : "")).join("")}`,
    );
    expect(final.output_text).toContain("23.4");
    expect(final.usage?.total_tokens).toBe(30);
    const stored = await switchboard.openai.responses.retrieve(final.id);
    expect(final.output).toMatchObject(stored.output);
  });

  it("streams a client function's call as function_call argument events, and continues from its output", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", { location: "Boston, MA" }, "call_sf")));
    const stream = switchboard.openai.responses.stream({ model: "gpt-5-mini", input: "Weather in Boston?", tools: [weatherFunction] });
    const argumentDeltas: string[] = [];
    stream.on("response.function_call_arguments.delta", (event) => argumentDeltas.push(event.delta));
    const final = await stream.finalResponse();
    expect(argumentDeltas.join("")).toBe('{"location":"Boston, MA"}');
    expect(final.output).toEqual([
      expect.objectContaining({ type: "function_call", call_id: "call_sf", arguments: '{"location":"Boston, MA"}', status: "completed" }),
    ]);

    switchboard.upstream.enqueue(reply.text("Sunny, 22 degrees."));
    const next = await switchboard.openai.responses
      .stream({
        model: "gpt-5-mini",
        previous_response_id: final.id,
        input: [{ type: "function_call_output", call_id: "call_sf", output: "22C sunny" }],
        tools: [weatherFunction],
      })
      .finalResponse();
    expect(next.output_text).toBe("Sunny, 22 degrees.");
    expect(roles(sent(1))).toEqual(["user", "assistant", "tool"]);
  });

  it("ends a stream that fails after it started with an error event and response.failed", async () => {
    switchboard.upstream.enqueue(
      reply.toolCalls(toolCall("calculate", { expression: "1+1" }, "call_f1")),
      reply.error(500, "upstream broke"),
      reply.error(500, "upstream broke"),
      reply.error(500, "upstream broke"),
    );
    const response = await post({ model: "gpt-5-mini", input: "1+1?", stream: true });
    expect(response.status).toBe(200);
    const events = await readEvents(response);
    const [error, failed] = events.slice(-2);
    expect(error).toMatchObject({ type: "error", message: expect.stringContaining("upstream broke") });
    expect(failed).toMatchObject({ type: "response.failed", response: { status: "failed", error: { message: expect.stringContaining("upstream broke") } } });
    expect((failed!.response as { output: JsonObject[] }).output).toEqual([expect.objectContaining({ type: "mcp_call", id: "call_f1", status: "completed" })]);
  });

  it("answers a request the upstream refuses before streaming with a plain HTTP error", async () => {
    switchboard.upstream.enqueue(reply.error(429, "slow down"));
    const response = await post({ model: "gpt-5-mini", input: "hi", stream: true });
    expect(response.status).toBe(429);
    expect(await response.json()).toEqual({
      error: { message: expect.stringContaining("slow down"), type: "rate_limit_error", param: null, code: "rate_limit_exceeded" },
    });
  });
});

describe("the OpenAI Agents SDK with its default (Responses) model", () => {
  const provider = () => new OpenAIProvider({ baseURL: new URL("/v1", switchboard.url).href, apiKey: KEYS.tenantA });
  const lookups: string[] = [];
  const agent = new Agent({
    name: "Orders",
    instructions: "You look up orders.",
    tools: [
      agentTool({
        name: "lookup_order",
        description: "Look up an order",
        parameters: z.object({ order_id: z.string() }),
        execute: async ({ order_id }) => {
          lookups.push(order_id);
          return JSON.stringify({ order_id, status: "shipped" });
        },
      }),
    ],
  });

  it("runs an agent with a function tool to completion", async () => {
    lookups.length = 0;
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("lookup_order", { order_id: "A-17" }, "call_agent_1")), reply.text("Order A-17 has shipped."));
    const runner = new Runner({ modelProvider: provider(), tracingDisabled: true });

    const result = await runner.run(agent, "Where is order A-17?");

    expect(result.finalOutput).toBe("Order A-17 has shipped.");
    expect(lookups).toEqual(["A-17"]);
    const second = sent(1);
    expect(roles(second)).toEqual(["system", "user", "assistant", "tool"]);
    expect(second[0]).toEqual({ role: "system", content: "You look up orders." });
    expect(second[3]).toMatchObject({ tool_call_id: "call_agent_1", content: JSON.stringify({ order_id: "A-17", status: "shipped" }) });
  });

  it("streams a run through a function tool and a server tool, never running the server's call itself", async () => {
    lookups.length = 0;
    switchboard.upstream.enqueue(
      reply.toolCalls(toolCall("calculate", { expression: "6*7" }, "call_srv"), toolCall("lookup_order", { order_id: "B-2" }, "call_cli")),
      reply.text("B-2 has shipped, and 6*7 is 42."),
    );
    const runner = new Runner({ modelProvider: provider(), tracingDisabled: true });

    const result = await runner.run(agent, "Where is B-2, and what is 6*7?", { stream: true });
    let text = "";
    for await (const event of result.toTextStream()) text += event;
    await result.completed;

    expect(result.finalOutput).toBe("B-2 has shipped, and 6*7 is 42.");
    expect(text).toBe("B-2 has shipped, and 6*7 is 42.");
    expect(lookups).toEqual(["B-2"]);
    expect(result.newItems.map((item) => item.type)).toEqual(expect.arrayContaining(["tool_call_item", "tool_call_output_item", "message_output_item"]));
    // The stateless follow-up carried only the client's half; the server's call and result are put back.
    const second = sent(1);
    expect(roles(second)).toEqual(["system", "user", "assistant", "tool", "tool"]);
    expect(second[2]!.tool_calls).toHaveLength(2);
    expect(JSON.parse(String(second[3]!.content))).toMatchObject({ result: 42 });
  });
});

describe("the AI SDK's default OpenAI provider (Responses)", () => {
  const provider = () => createOpenAI({ baseURL: new URL("/v1", switchboard.url).href, apiKey: KEYS.tenantA });

  it("generateText runs a client tool and reads a server tool as already executed", async () => {
    switchboard.upstream.enqueue(
      reply.toolCalls(toolCall("calculate", { expression: "2^10" }, "call_ai_srv"), toolCall("lookup_order", { order_id: "C-3" }, "call_ai_cli")),
      reply.text("C-3 shipped; 2^10 is 1024."),
    );
    const result = await generateText({
      model: provider()("gpt-5-mini"),
      prompt: "Where is C-3 and what is 2^10?",
      tools: { lookup_order: tool({ inputSchema: z.object({ order_id: z.string() }), execute: async ({ order_id }) => ({ order_id, status: "shipped" }) }) },
      stopWhen: stepCountIs(3),
    });
    expect(result.text).toBe("C-3 shipped; 2^10 is 1024.");
    const calls = result.steps[0]!.toolCalls;
    expect(calls.map((call) => [call.toolName, call.providerExecuted ?? false])).toEqual([
      ["mcp.calculate", true],
      ["lookup_order", false],
    ]);
    expect(roles(sent(1))).toEqual(["user", "assistant", "tool", "tool"]);
  });

  it("streamText streams the answer through a server tool step", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", { location: "上海, 中国" }, "call_ai_w")));
    const result = streamText({ model: provider()("gpt-5-mini"), prompt: "上海今天几度?" });
    let text = "";
    for await (const delta of result.textStream) text += delta;
    expect(text).toContain("23.4");
    expect((await result.toolResults).map((entry) => entry.toolName)).toEqual(["mcp.get_current_weather"]);
  });
});

describe("Idempotency-Key", () => {
  const postWithKey = (key: string, body: JsonObject) =>
    switchboard.request("/v1/responses", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": key },
      body: JSON.stringify(body),
    });

  it("runs the model once for concurrent and later duplicates, and replays the same response", async () => {
    switchboard.upstream.enqueue(async () => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      return Response.json(completion({ content: "only once" }));
    });
    const key = `resp-key-${Date.now()}`;
    const body = { model: "gpt-5-mini", input: "hello" };
    const concurrent = await Promise.all([1, 2, 3, 4].map(() => postWithKey(key, body)));
    const later = await postWithKey(key, body);
    const bodies = (await Promise.all([...concurrent, later].map((response) => response.json()))) as Array<{ id: string; output_text?: string }>;

    expect([...concurrent, later].map((response) => response.status)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(bodies.map((response) => response.id)).size).toBe(1);
    expect(later.headers.get("idempotent-replayed")).toBe("true");
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
    expect((await postWithKey(key, { ...body, input: "another" })).status).toBe(422);
  });

  it("replays a streamed response as a Responses event stream that ends in the same final response", async () => {
    switchboard.upstream.enqueue(reply.text("streamed once"));
    const key = `resp-stream-key-${Date.now()}`;
    const body = { model: "gpt-5-mini", input: "hello", stream: true };
    const first = await readEvents(await postWithKey(key, body));
    const replay = await readEvents(await postWithKey(key, body));

    expect(switchboard.upstream.chatCalls).toHaveLength(1);
    const finalOf = (events: Array<JsonObject & { type: string }>) => events.find((event) => event.type === "response.completed")?.response as JsonObject;
    expect(finalOf(replay)).toEqual(finalOf(first));
    expect(replay.map((event) => event.sequence_number)).toEqual(replay.map((_, index) => index));
  });

  it("frees the key when the turn fails, so a retry runs", async () => {
    switchboard.upstream.enqueue(reply.error(400, "refused"));
    const key = `resp-fail-key-${Date.now()}`;
    const body = { model: "gpt-5-mini", input: "hello" };
    expect((await postWithKey(key, body)).status).toBe(400);
    switchboard.upstream.enqueue(reply.text("second time"));
    const retry = await postWithKey(key, body);
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
  });
});

describe("errors, as Responses-style error objects", () => {
  it("refuses unknown and unsupported fields with a 400 naming them, before any model call", async () => {
    const cases: Array<[JsonObject, string, string]> = [
      [{ input: "hi", frobnicate: true }, "frobnicate", "unknown_parameter"],
      [{ input: "hi", prompt: { id: "pmpt_1" } }, "prompt", "unsupported_parameter"],
      [{ input: "hi", tools: [{ type: "web_search" }] }, "tools[0].type", "unsupported_value"],
      [{ input: [{ type: "file_search_call", id: "fs_1" }] }, "input[0].type", "unsupported_value"],
      [{ input: [{ role: "user", content: [{ type: "input_file", file_id: "file-1" }] }] }, "input[0].content[0].type", "unsupported_value"],
      [{ input: "hi", service_tier: "flex" }, "service_tier", "parameter_not_allowed"],
      [{ input: "hi", include: ["file_search_call.results"] }, "include[0]", "unsupported_value"],
      [{ input: "hi", truncation: "auto" }, "truncation", "invalid_value"],
      [{ input: [{ type: "function_call_output", output: "x" }] }, "input[0].call_id", "invalid_value"],
    ];
    for (const [body, param, code] of cases) {
      const response = await post(body);
      expect(response.status, param).toBe(400);
      expect(await response.json()).toEqual({ error: { message: expect.any(String), type: "invalid_request_error", param, code } });
    }
    expect(switchboard.upstream.chatCalls).toEqual([]);
  });

  it("the openai client raises them as typed errors with status and param", async () => {
    // A background response is polled from what is stored: without store there is nothing to poll.
    const error = await switchboard.openai.responses
      .create({ model: "gpt-5-mini", input: "hi", background: true, store: false })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ status: 400, param: "store" });
  });

  it("scopes response ids to their tenant: another tenant's is a 404", async () => {
    switchboard.upstream.enqueue(reply.text("Hello A."));
    const mine = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "hi" });
    const theirs = switchboard.client(KEYS.tenantB);
    await expect(theirs.responses.retrieve(mine.id)).rejects.toMatchObject({ status: 404 });
    const continued = await post({ input: "more", previous_response_id: mine.id }, KEYS.tenantB);
    expect(continued.status).toBe(404);
    expect(((await continued.json()) as { error: JsonObject }).error).toMatchObject({ param: "previous_response_id", code: "response_not_found" });
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
  });

  it("refuses to continue from a response its conversation has moved past (409), and forgets a deleted response", async () => {
    switchboard.upstream.enqueue(reply.text("One."), reply.text("Two."));
    const first = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "1" });
    await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "2", previous_response_id: first.id });
    const stale = await post({ input: "3", previous_response_id: first.id });
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { error: JsonObject }).error).toMatchObject({ param: "previous_response_id", code: "response_not_latest" });
    expect(switchboard.upstream.chatCalls).toHaveLength(2);

    const deleted = await switchboard.request(`/v1/responses/${first.id}`, { method: "DELETE" });
    expect(await deleted.json()).toEqual({ id: first.id, object: "response", deleted: true });
    expect((await switchboard.request(`/v1/responses/${first.id}`)).status).toBe(404);
    expect((await switchboard.request(`/v1/responses/${first.id}`, { method: "DELETE" })).status).toBe(404);
  });

  it("passes upstream failures on with their status", async () => {
    switchboard.upstream.enqueue(reply.error(400, "Invalid value for 'temperature'", { code: "invalid_value", param: "temperature" }));
    const error = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "hi", temperature: 9 }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ status: 400, code: "invalid_value", param: "temperature" });
  });
});
