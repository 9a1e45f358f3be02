// The offline model (dev/offline-model) as `npm start` runs it without a key: it is "DMXAPI" for the
// orchestrator, which has no idea; the real tool Workers answer (Open-Meteo mocked).

import { Agent, tool as agentTool, OpenAIProvider, Runner } from "@openai/agents";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { KEYS, useSwitchboard } from "./support/harness.js";
import type { JsonObject } from "./support/mock-upstream.js";

const switchboard = useSwitchboard({ model: "offline" });

interface Turn {
  content: string;
  conversationId: string;
}

async function ask(content: string, conversationId?: string, extra: JsonObject = {}): Promise<Turn> {
  const completion = await switchboard.openai.chat.completions.create({
    model: "gpt-5-mini",
    messages: [{ role: "user", content }],
    ...(conversationId ? { conversation_id: conversationId } : {}),
    ...extra,
  } as Parameters<typeof switchboard.openai.chat.completions.create>[0] & { stream?: false });
  return { content: completion.choices[0]!.message.content ?? "", conversationId: (completion as unknown as { conversation_id: string }).conversation_id };
}

async function toolCallsOf(conversationId: string): Promise<Array<{ function: { name: string; arguments: string } }>> {
  const stored = (await (await switchboard.request(`/v1/conversations/${conversationId}`)).json()) as { messages: JsonObject[] };
  return stored.messages.flatMap((message) => (message.tool_calls as Array<{ function: { name: string; arguments: string } }> | undefined) ?? []);
}

describe("the offline model as DMXAPI", () => {
  it("answers 上海今天几度? from the weather tool, without calling DMXAPI", async () => {
    const turn = await ask("上海今天几度?");
    expect(turn.content).toMatch(/^\[offline model\] 根据 get_current_weather：temperature 23\.4，/);
    expect(switchboard.upstream.chatCalls).toEqual([]);
    expect(switchboard.upstream.openMeteoCalls.map((url) => url.pathname)).toEqual(["/v1/search", "/v1/forecast"]);
  });

  it("follows up 'And in Fahrenheit?' on the same place", async () => {
    const first = await ask("上海今天几度?");
    const next = await ask("And in Fahrenheit?", first.conversationId);
    expect(next.content).toContain("temperature 74.1");
    expect(next.content).toContain("unit fahrenheit");
    expect((await toolCallsOf(first.conversationId)).map((call) => JSON.parse(call.function.arguments))).toEqual([
      { location: "上海" },
      { location: "上海", unit: "fahrenheit" },
    ]);
  });

  it("asks about New York and London in two parallel calls of one step", async () => {
    const turn = await ask("What's the weather in New York and London?");
    expect(turn.content).toContain("temperature 4.6");
    expect(turn.content).toContain("temperature 9.1");
    const stored = (await (await switchboard.request(`/v1/conversations/${turn.conversationId}`)).json()) as { messages: JsonObject[] };
    const steps = stored.messages.filter((message) => Array.isArray(message.tool_calls));
    expect(steps).toHaveLength(1);
    expect((steps[0]!.tool_calls as Array<{ function: { arguments: string } }>).map((call) => JSON.parse(call.function.arguments))).toEqual([
      { location: "New York" },
      { location: "London" },
    ]);
  });

  it("remembers a locker number in notes and recalls it later in the conversation", async () => {
    const saved = await ask("remember my locker is 42");
    expect(saved.content).toContain("my locker is 42");
    const recalled = await ask("what is my locker number?", saved.conversationId);
    expect(recalled.content).toMatch(/^\[offline model\] From notes: text my locker is 42/);
  });

  it("computes 2的10次方加3 with the calculator", async () => {
    expect((await ask("2的10次方加3")).content).toContain("result 1027");
  });

  it("calls the tool a named tool_choice asks for", async () => {
    const turn = await ask("上海今天几度?", undefined, { tool_choice: { type: "function", function: { name: "get_current_time" } } });
    expect(turn.content).toContain("timezone Asia/Shanghai");
  });

  it("streams an answer made from a tool result", async () => {
    const stream = switchboard.openai.chat.completions.stream({ model: "gpt-5-mini", messages: [{ role: "user", content: "12*(3+4)?" }] });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text).toContain("result 84");
  });

  it("lists the tools it can use when none fits", async () => {
    const turn = await ask("hello");
    for (const name of ["get_current_weather", "get_current_time", "calculate", "notes"]) expect(turn.content).toContain(`- ${name}: `);
  });
});

describe("the Responses door with the offline model, as `npm start` serves it", () => {
  it("answers responses.create({ input: '上海今天几度?' }) from the weather tool Worker", async () => {
    const response = await switchboard.openai.responses.create({ input: "上海今天几度?" });
    expect(response.output_text).toMatch(/^\[offline model\] 根据 get_current_weather：temperature 23\.4，/);
    expect(response.output[0]).toMatchObject({ type: "mcp_call", name: "get_current_weather", server_label: "switchboard", status: "completed" });
    expect(switchboard.upstream.openMeteoCalls.map((url) => url.pathname)).toEqual(["/v1/search", "/v1/forecast"]);
  });

  it("runs an Agents SDK agent with default settings and a function tool to completion, streamed and not", async () => {
    const lookups: string[] = [];
    const agent = new Agent({
      name: "Orders",
      instructions: "You help with orders.",
      tools: [
        agentTool({
          name: "get_order_status",
          description: "Look up the shipping status of an order by its order id",
          parameters: z.object({ order_id: z.string().describe("The order id, e.g. A-17") }),
          execute: async ({ order_id }) => {
            lookups.push(order_id);
            return JSON.stringify({ order_id, status: "shipped" });
          },
        }),
      ],
    });
    const runner = new Runner({
      modelProvider: new OpenAIProvider({ baseURL: new URL("/v1", switchboard.url).href, apiKey: KEYS.tenantA }),
      tracingDisabled: true,
    });

    const result = await runner.run(agent, "What is the shipping status of order A-17?");
    expect(lookups).toHaveLength(1);
    expect(result.finalOutput).toMatch(/^\[offline model\].*shipped/);

    const streamed = await runner.run(agent, "What is the shipping status of order A-17?", { stream: true });
    await streamed.completed;
    expect(lookups).toHaveLength(2);
    expect(streamed.finalOutput).toMatch(/^\[offline model\].*shipped/);
  });
});
