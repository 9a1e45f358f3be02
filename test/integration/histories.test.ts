// The histories real clients send: frameworks that resend the whole message list with a
// conversation_id (the OpenAI Agents SDK, pydantic-ai, LangChain), a history that contradicts the
// stored one, tool calls left unanswered, and a mixed step (server tool + client function in one
// step) continued statelessly by the Vercel AI SDK. What matters is what reaches the model.

import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { Agent, tool as agentTool, OpenAIProvider, Runner } from "@openai/agents";
import { generateText, stepCountIs, tool } from "ai";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { KEYS, useSwitchboard } from "./support/harness.js";
import { completion, type JsonObject, reply, toolCall } from "./support/mock-upstream.js";

const switchboard = useSwitchboard();

type Message = JsonObject & { role: string };

function post(body: unknown): Promise<Response> {
  return switchboard.request("/v1/chat/completions", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

async function chat(body: JsonObject): Promise<JsonObject> {
  const response = await post({ model: "gpt-5-mini", ...body });
  expect(response.status).toBe(200);
  return (await response.json()) as JsonObject;
}

function sentMessages(call: number): Message[] {
  return switchboard.upstream.chatCalls[call]!.body.messages as Message[];
}

const roles = (messages: Message[]) => messages.map((message) => message.role);
const answerOf = (completion: JsonObject) => (completion.choices as Array<{ message: Message }>)[0]!.message;

/** Every assistant tool call answered right after it, and no answer without its call: what a strict upstream demands. */
function expectWellFormed(messages: Message[]): void {
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index]!;
    if (message.role === "tool") throw new Error(`messages[${index}] answers a call that nothing right before it made`);
    const ids = ((message.tool_calls as Array<{ id: string }> | undefined) ?? []).map((call) => call.id);
    const answered = [];
    while (messages[index + 1]?.role === "tool") answered.push(messages[++index]!.tool_call_id);
    expect(answered.sort()).toEqual([...ids].sort());
  }
}

const weatherCall = (id: string) => toolCall("get_current_weather", { location: "Paris, France" }, id);

describe("frameworks that resend the whole history with a conversation_id", () => {
  it("pydantic-ai: system prompt and history resent every time reach the model once", async () => {
    const system = { role: "system", content: "You are a weather assistant." };
    const first = { role: "user", content: "Weather in Paris?" };
    switchboard.upstream.enqueue(reply.toolCalls(weatherCall("call_p1")), reply.text("It is mild in Paris."));
    const turn1 = await chat({ messages: [system, first] });
    const conversationId = String(turn1.conversation_id);

    switchboard.upstream.enqueue(reply.text("Take a jacket."));
    // pydantic-ai's second request: everything it has, then the new question.
    await chat({
      conversation_id: conversationId,
      messages: [system, first, { role: "assistant", content: "It is mild in Paris." }, { role: "user", content: "Jacket?" }],
    });

    const sent = sentMessages(2);
    expect(roles(sent)).toEqual(["system", "user", "assistant", "tool", "assistant", "user"]);
    expect(sent.filter((message) => message.role === "system")).toHaveLength(1);
    expectWellFormed(sent);
    const stored = (await (await switchboard.request(`/v1/conversations/${conversationId}`)).json()) as { messages: Message[] };
    expect(stored.messages.filter((message) => message.role === "user").map((message) => message.content)).toEqual(["Weather in Paris?", "Jacket?"]);
  });

  it("OpenAI Agents SDK: a client function's result sent with the resent history reaches the model right after its call", async () => {
    const clientTool = { type: "function", function: { name: "lookup_order", parameters: { type: "object", properties: { id: { type: "string" } } } } };
    const question = { role: "user", content: "Where is order A-17?" };
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("lookup_order", { id: "A-17" }, "call_agents_1")));
    const turn1 = await chat({ messages: [question], tools: [clientTool] });
    const handedBack = answerOf(turn1);

    switchboard.upstream.enqueue(reply.text("Order A-17 has shipped."));
    // The Agents SDK's follow-up: the input so far, the model's call as it received it, its result.
    await chat({
      conversation_id: turn1.conversation_id,
      tools: [clientTool],
      messages: [
        question,
        { role: "assistant", content: null, tool_calls: handedBack.tool_calls },
        { role: "tool", tool_call_id: "call_agents_1", content: '{"status":"shipped"}' },
      ],
    });

    const sent = sentMessages(1);
    expect(roles(sent)).toEqual(["user", "assistant", "tool"]);
    expectWellFormed(sent);
  });

  it("the real OpenAI Agents SDK, run twice on one conversation, sends the model each message once and well-formed", async () => {
    const conversationId = `conv_agents_${Date.now()}`;
    const agent = new Agent({
      name: "Orders",
      instructions: "You look up orders.",
      model: "gpt-5-mini",
      // How a client passes a body field the SDK does not know: Switchboard's conversation_id.
      modelSettings: { providerData: { conversation_id: conversationId } },
      tools: [
        agentTool({
          name: "lookup_order",
          description: "Look up an order",
          parameters: z.object({ order_id: z.string() }),
          execute: async ({ order_id }) => JSON.stringify({ order_id, status: "shipped" }),
        }),
      ],
    });
    const provider = new OpenAIProvider({ baseURL: new URL("/v1", switchboard.url).href, apiKey: KEYS.tenantA, useResponses: false });
    const runner = new Runner({ modelProvider: provider, tracingDisabled: true });
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("lookup_order", { order_id: "A-17" }, "call_agents_sdk")), reply.text("Order A-17 has shipped."));

    const first = await runner.run(agent, "Where is order A-17?");
    expect(first.finalOutput).toBe("Order A-17 has shipped.");

    switchboard.upstream.enqueue(reply.text("You're welcome."));
    const second = await runner.run(agent, [...first.history, { role: "user", content: "Thanks!" }]);
    expect(second.finalOutput).toBe("You're welcome.");

    for (const call of [1, 2]) expectWellFormed(sentMessages(call));
    expect(roles(sentMessages(1))).toEqual(["system", "user", "assistant", "tool"]);
    expect(roles(sentMessages(2))).toEqual(["system", "user", "assistant", "tool", "assistant", "user"]);
  });

  it("a streaming client that resends its history, with the text the model wrote before a tool step, continues without a conflict", async () => {
    const question = { role: "user", content: "What is 6*7?" };
    switchboard.upstream.enqueue(
      reply.json(completion({ content: "Let me calculate. ", tool_calls: [toolCall("calculate", { expression: "6*7" }, "call_pre")] })),
      reply.text("It is 42."),
    );
    const streamed = await post({ model: "gpt-5-mini", stream: true, messages: [question] });
    const conversationId = streamed.headers.get("x-conversation-id");
    const shown = (await streamed.text())
      .split("\n")
      .filter((line) => line.startsWith("data: {"))
      .map((line) => (JSON.parse(line.slice(6)) as { choices: Array<{ delta?: { content?: string } }> }).choices[0]?.delta?.content ?? "")
      .join("");
    expect(shown).toBe("Let me calculate. It is 42.");

    switchboard.upstream.enqueue(reply.text("You're welcome."));
    const next = await post({
      model: "gpt-5-mini",
      conversation_id: conversationId,
      messages: [question, { role: "assistant", content: shown }, { role: "user", content: "thanks" }],
    });
    expect(next.status).toBe(200);
    expect(roles(sentMessages(2))).toEqual(["user", "assistant", "tool", "assistant", "user"]);
  });

  it("refuses a resent history that contradicts the stored one with 409 naming the message, before any model call", async () => {
    switchboard.upstream.enqueue(reply.text("Hello!"));
    const turn1 = await chat({ messages: [{ role: "user", content: "Hi, I am Ada." }] });
    const calls = switchboard.upstream.chatCalls.length;

    const response = await post({
      model: "gpt-5-mini",
      conversation_id: turn1.conversation_id,
      messages: [
        { role: "user", content: "Hi, I am Grace." },
        { role: "assistant", content: "Hello!" },
        { role: "user", content: "Who am I?" },
      ],
    });

    expect(response.status).toBe(409);
    expect(((await response.json()) as { error: JsonObject }).error).toMatchObject({ code: "history_conflict", param: "messages[0]" });
    expect(switchboard.upstream.chatCalls).toHaveLength(calls);
  });
});

describe("tool calls and their answers", () => {
  it("refuses a tool call left unanswered with a 400 naming its tool_call_id, before any model call", async () => {
    const response = await post({
      model: "gpt-5-mini",
      messages: [
        { role: "user", content: "go" },
        { role: "assistant", content: null, tool_calls: [{ id: "call_lonely", type: "function", function: { name: "x", arguments: "{}" } }] },
        { role: "user", content: "well?" },
      ],
    });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: JsonObject };
    expect(error).toMatchObject({ code: "invalid_tool_history", param: "messages[1]" });
    expect(String(error.message)).toContain("call_lonely");
    expect(switchboard.upstream.chatCalls).toHaveLength(0);
  });

  it("answers for the client a call it never answered before it moved on, so the conversation can go on", async () => {
    const clientTool = { type: "function", function: { name: "open_door", parameters: { type: "object", properties: {} } } };
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("open_door", {}, "call_ignored")));
    const turn1 = await chat({ messages: [{ role: "user", content: "open the door" }], tools: [clientTool] });

    switchboard.upstream.enqueue(reply.text("Fine, the door stays shut."));
    await chat({ conversation_id: turn1.conversation_id, messages: [{ role: "user", content: "never mind" }] });

    const sent = sentMessages(1);
    expect(roles(sent)).toEqual(["user", "assistant", "tool", "user"]);
    expectWellFormed(sent);
  });
});

describe("a mixed step continued statelessly", () => {
  it("the Vercel AI SDK's follow-up gets the server tool's call and result put back before the model sees it", async () => {
    switchboard.upstream.enqueue(
      reply.toolCalls(toolCall("calculate", { expression: "6*7" }, "call_server_calc"), toolCall("lookup_order", { order_id: "A-17" }, "call_client_order")),
      reply.text("6*7 is 42 and order A-17 has shipped."),
    );
    const provider = createOpenAICompatible({ name: "switchboard", baseURL: new URL("/v1", switchboard.url).href, apiKey: KEYS.tenantA });
    const result = await generateText({
      model: provider("gpt-5-mini"),
      prompt: "What is 6*7, and where is order A-17?",
      tools: {
        lookup_order: tool({
          description: "Look up an order",
          inputSchema: z.object({ order_id: z.string() }),
          execute: async ({ order_id }) => ({ order_id, status: "shipped" }),
        }),
      },
      stopWhen: stepCountIs(3),
    });

    expect(result.text).toBe("6*7 is 42 and order A-17 has shipped.");
    const followUp = sentMessages(1);
    expectWellFormed(followUp);
    const assistant = followUp.find((message) => message.role === "assistant")!;
    expect((assistant.tool_calls as Array<{ function: { name: string } }>).map((call) => call.function.name)).toEqual(["calculate", "lookup_order"]);
    const results = followUp.filter((message) => message.role === "tool");
    expect(results[0]).toMatchObject({ tool_call_id: "call_server_calc" });
    expect(String(results[0]!.content)).toContain("42");
    expect(String(results[1]!.content)).toContain("shipped");
  });

  it("does not restore another tenant's mixed step", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("calculate", { expression: "1+1" }, "call_s"), toolCall("open_door", {}, "call_c")));
    const clientTool = { type: "function", function: { name: "open_door", parameters: { type: "object", properties: {} } } };
    const turn1 = await chat({ messages: [{ role: "user", content: "go" }], tools: [clientTool] });
    const handedBack = answerOf(turn1).tool_calls as Array<{ id: string }>;

    switchboard.upstream.enqueue(reply.text("ok"));
    const other = await switchboard.request("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${KEYS.tenantB}` },
      body: JSON.stringify({
        model: "gpt-5-mini",
        tools: [clientTool],
        messages: [
          { role: "user", content: "go" },
          { role: "assistant", content: null, tool_calls: handedBack },
          { role: "tool", tool_call_id: handedBack[0]!.id, content: "opened" },
        ],
      }),
    });
    expect(other.status).toBe(200);
    expect(roles(sentMessages(1))).toEqual(["user", "assistant", "tool"]);
  });
});
