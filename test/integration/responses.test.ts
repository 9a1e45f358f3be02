// The Responses API door, driven by the clients that default to it: the official openai client
// (`responses.create`, `responses.stream`), the OpenAI Agents SDK with its default Responses model,
// and the Vercel AI SDK's default OpenAI provider. Every request runs the same loop as the chat door
// against the mock DMXAPI (Chat Completions); each test checks what the client got and what the
// upstream was sent.

import { createOpenAI } from "@ai-sdk/openai";
import { Agent, tool as agentTool, OpenAIProvider, Runner } from "@openai/agents";
import { generateText, stepCountIs, streamText, tool } from "ai";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { KEYS, useSwitchboard } from "./support/harness.js";
import { completion, type JsonObject, reply, toolCall } from "./support/mock-upstream.js";

const switchboard = useSwitchboard({ vars: { STREAM_KEEPALIVE_MS: "100" } });

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
    properties: { location: { type: "string", description: "The city and state, e.g. San Francisco, CA" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
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
    expect(call).toMatchObject({ id: "call_w1", server_label: "switchboard", name: "get_current_weather", arguments: '{"location":"上海, 中国"}', error: null, status: "completed" });
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
      { type: "function_call", id: expect.stringMatching(/^fc_/), call_id: "call_brief", name: "get_current_weather", arguments: '{"location":"Boston, MA"}', status: "completed" },
    ]);
    expect(switchboard.upstream.openMeteoCalls).toEqual([]);
    const offered = switchboard.upstream.chatCalls[0]!.body.tools as Array<{ function: { name: string; description?: string } }>;
    expect(offered.filter((entry) => entry.function.name === "get_current_weather")).toEqual([
      { type: "function", function: { name: "get_current_weather", description: weatherFunction.description, parameters: weatherFunction.parameters, strict: false } },
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
    expect(history[1]!.tool_calls).toEqual([{ id: "call_brief", type: "function", function: { name: "get_current_weather", arguments: '{"location":"Boston, MA"}' } }]);
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
