// The whole loop through real Workers: the official openai client talks to the orchestrator, which
// calls the mock DMXAPI and dispatches to the real tool Workers over service bindings.

import { describe, expect, it } from "vitest";
import { KEYS, startSwitchboard, useSwitchboard } from "./support/harness.js";
import { BRIEF_RESPONSE_TEXT, completion, type JsonObject, reply, toolCall } from "./support/mock-upstream.js";

const switchboard = useSwitchboard();

type Message = JsonObject & { role: string; content?: unknown; tool_calls?: JsonObject[]; tool_call_id?: string };

function sentMessages(call: number): Message[] {
  return switchboard.upstream.chatCalls[call]!.body.messages as Message[];
}

function toolMessages(call: number): Message[] {
  return sentMessages(call).filter((message) => message.role === "tool");
}

function parsedToolContent(call: number, index = 0): JsonObject {
  return JSON.parse(String(toolMessages(call)[index]!.content)) as JsonObject;
}

const weatherQuestion = [{ role: "user" as const, content: "上海今天几度?" }];

describe("server tools", () => {
  it("answers a weather question with data from the weather tool Worker and Open-Meteo", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", { location: "上海, 中国", unit: "celsius" }, "call_w1")));

    const response = await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: weatherQuestion });

    expect(response.choices[0]!.message.content).toContain("23.4");
    expect(response.choices[0]!.finish_reason).toBe("stop");
    expect(switchboard.upstream.openMeteoCalls.map((url) => url.pathname)).toEqual(["/v1/search", "/v1/forecast"]);
    const firstCall = switchboard.upstream.chatCalls[0]!;
    expect(firstCall.headers.get("authorization")).toBe(`Bearer ${KEYS.dmxapi}`);
    const offered = (firstCall.body.tools as Array<{ function: { name: string } }>).map((tool) => tool.function.name).sort();
    // Every discovered tool is offered: the shipped ones, the test's flaky one, and any added by new-tool.
    const listed = ((await (await switchboard.request("/v1/tools")).json()) as { data: Array<{ function: { name: string } }> }).data;
    expect(offered).toEqual(listed.map((tool) => tool.function.name).sort());
    expect(offered).toEqual(expect.arrayContaining(["calculate", "flaky", "get_current_time", "get_current_weather", "notes"]));
    // The follow-up carries the assistant message, then exactly one tool message for its call.
    const followUp = sentMessages(1);
    expect(followUp.map((message) => message.role)).toEqual(["user", "assistant", "tool"]);
    expect(followUp[1]!.content).toBeNull();
    expect(followUp[2]!.tool_call_id).toBe("call_w1");
    expect(parsedToolContent(1)).toMatchObject({ temperature: 23.4, unit: "celsius", source: "open-meteo.com" });
  });

  it("runs several calls of one step in parallel and answers each in order", async () => {
    switchboard.upstream.enqueue(
      reply.toolCalls(
        toolCall("get_current_weather", { location: "Paris, France" }, "call_a"),
        toolCall("get_current_time", { timezone: "Asia/Tokyo" }, "call_b"),
        toolCall("calculate", { expression: "2*(3+4)" }, "call_c"),
      ),
    );

    const response = await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "weather, time, math" }] });

    expect(toolMessages(1).map((message) => message.tool_call_id)).toEqual(["call_a", "call_b", "call_c"]);
    expect(parsedToolContent(1, 0)).toMatchObject({ temperature: 11.2, location: expect.stringContaining("France") });
    expect(parsedToolContent(1, 1)).toMatchObject({ timezone: "Asia/Tokyo", utc_offset: "+09:00" });
    expect(parsedToolContent(1, 2)).toMatchObject({ result: 14 });
    expect(response.choices[0]!.message.content).toContain("From the tools");
  });

  it("runs several steps in a row and sums the usage of every upstream call", async () => {
    switchboard.upstream.enqueue(
      reply.toolCalls(toolCall("calculate", { expression: "6*7" })),
      reply.toolCalls(toolCall("calculate", { expression: "42+1" })),
      reply.json(
        completion(
          { content: "43" },
          { usage: { prompt_tokens: 100, completion_tokens: 1, total_tokens: 101, completion_tokens_details: { reasoning_tokens: 7 } } },
        ),
      ),
    );

    const response = await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "compute" }] });

    expect(switchboard.upstream.chatCalls).toHaveLength(3);
    expect(response.usage).toMatchObject({ prompt_tokens: 120, completion_tokens: 11, total_tokens: 131, completion_tokens_details: { reasoning_tokens: 7 } });
  });

  it("returns arguments that are not JSON to the model as a tool error, without calling the tool", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", '{"location": "上海', "call_bad")));

    const response = await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: weatherQuestion });

    expect(response.choices[0]!.message.content).toContain("invalid_arguments");
    expect(parsedToolContent(1)).toMatchObject({ error: { type: "invalid_arguments", message: expect.stringContaining("not valid JSON") } });
    // Echoed back as an object so strict upstreams accept the follow-up.
    expect(sentMessages(1)[1]!.tool_calls![0]).toMatchObject({ id: "call_bad", function: { arguments: "{}" } });
    expect(switchboard.upstream.openMeteoCalls).toHaveLength(0);
  });

  it("validates arguments against the tool's JSON Schema before dispatch", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", { unit: "kelvin" })));

    await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: weatherQuestion });

    const error = parsedToolContent(1).error as JsonObject;
    expect(error.type).toBe("invalid_arguments");
    expect(error.message).toMatch(/location/);
    expect(error.message).toMatch(/unit/);
    expect(switchboard.upstream.openMeteoCalls).toHaveLength(0);
  });

  it("tells the model when it calls a tool that does not exist", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("launch_rocket", {})));

    const response = await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "go" }] });

    expect(response.choices[0]!.finish_reason).toBe("stop");
    expect(parsedToolContent(1)).toMatchObject({ error: { type: "unknown_tool", message: expect.stringContaining("get_current_weather") } });
  });

  it("returns a tool error to the model when the tool Worker throws", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("flaky", { mode: "fail" })));

    const response = await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "go" }] });

    expect(response.choices[0]!.message.content).toContain("From the tools");
    expect(parsedToolContent(1)).toMatchObject({ error: { type: "tool_error" } });
  });

  it("returns a tool error to the model when the tool Worker times out", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("flaky", { mode: "hang" }), toolCall("calculate", { expression: "1+1" })));

    const started = Date.now();
    const response = await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "go" }] });

    expect(Date.now() - started).toBeLessThan(10_000);
    expect(response.choices[0]!.finish_reason).toBe("stop");
    expect(parsedToolContent(1, 0)).toMatchObject({ error: { type: "tool_timeout", message: expect.stringContaining("300 ms") } });
    expect(parsedToolContent(1, 1)).toMatchObject({ result: 2 });
  });

  it("returns a tool error when the tool's data source fails", async () => {
    switchboard.upstream.openMeteoStatus = 500;
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", { location: "Shanghai" })));

    const response = await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: weatherQuestion });

    expect(response.choices[0]!.finish_reason).toBe("stop");
    expect(parsedToolContent(1)).toMatchObject({ error: { type: "upstream_error" } });
  });

  it("cuts tool output over the limit and tells the model it was cut", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("flaky", { mode: "huge", size: 50_000 })));

    await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "go" }] });

    const content = String(toolMessages(1)[0]!.content);
    expect(content.length).toBeLessThan(17_000);
    expect(content).toMatch(/Tool output cut at 16000 of \d+ characters/);
  });

  it("passes the conversation and a stable idempotency key to the tool", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("flaky", { mode: "echo" }, "call_echo")));

    const response = (await switchboard.openai.chat.completions.create({
      model: "gpt-5-mini",
      messages: [{ role: "user", content: "go" }],
    })) as unknown as JsonObject;

    const echoed = parsedToolContent(1).echo === undefined ? null : parsedToolContent(1);
    expect(echoed).toMatchObject({
      echo: { mode: "echo" },
      context: { conversation_id: response.conversation_id, tool_call_id: "call_echo", tenant: "tenant-a", turn_id: expect.stringMatching(/^turn_/) },
      idempotency_key: expect.stringMatching(new RegExp(`^tenant-a:${String(response.conversation_id)}:turn_[A-Za-z0-9_]+:1:0:flaky$`)),
    });
  });
});

describe("upstream quirks", () => {
  it("runs tools when tool_calls come with finish_reason stop, missing or duplicated ids, and object arguments", async () => {
    switchboard.upstream.enqueue(
      reply.json(
        completion(
          {
            content: "",
            reasoning_content: "thinking about it",
            tool_calls: [
              { type: "function", function: { name: "calculate", arguments: { expression: "1+2" } } },
              {
                id: "dup",
                type: "function",
                function: { name: "calculate", arguments: '{"expression":"2+3"}' },
                extra_content: { google: { thought_signature: "sig==" } },
              },
              { id: "dup", type: "function", function: { name: "get_current_time", arguments: "" } },
              { id: 7, type: "function", function: { name: "calculate", arguments: "[1]" } },
            ],
          },
          { finish_reason: "stop" },
        ),
      ),
    );

    await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "go" }] });

    const assistant = sentMessages(1)[1]!;
    const ids = assistant.tool_calls!.map((call) => call.id as string);
    expect(new Set(ids).size).toBe(4);
    expect(ids[1]).toBe("dup");
    expect(ids[3]).toBe("7");
    expect(assistant.content).toBeNull();
    expect(assistant.reasoning_content).toBe("thinking about it");
    expect(assistant.tool_calls![1]!.extra_content).toEqual({ google: { thought_signature: "sig==" } });
    expect(assistant.tool_calls!.map((call) => (call.function as JsonObject).arguments)).toEqual(['{"expression":"1+2"}', '{"expression":"2+3"}', "{}", "{}"]);
    expect(toolMessages(1).map((message) => message.tool_call_id)).toEqual(ids);
    expect(JSON.parse(String(toolMessages(1)[0]!.content))).toMatchObject({ result: 3 });
    expect(JSON.parse(String(toolMessages(1)[2]!.content))).toMatchObject({ timezone: "UTC" });
    expect(JSON.parse(String(toolMessages(1)[3]!.content))).toMatchObject({ error: { type: "invalid_arguments" } });
  });

  it("ends at the step limit with a final call without tools", async () => {
    const limited = await startSwitchboard({ vars: { MAX_STEPS: "2" } });
    try {
      limited.upstream.enqueue(
        reply.toolCalls(toolCall("calculate", { expression: "1+1" })),
        reply.toolCalls(toolCall("calculate", { expression: "2+2" })),
        reply.toolCalls(toolCall("calculate", { expression: "3+3" })),
      );

      const response = await limited.openai.chat.completions.create({
        model: "gpt-5-mini",
        messages: [{ role: "user", content: "loop" }],
        tool_choice: "required",
      });

      expect(limited.upstream.chatCalls).toHaveLength(3);
      expect(limited.upstream.chatCalls[0]!.body.tool_choice).toBe("required");
      expect(limited.upstream.chatCalls[1]!.body.tool_choice).toBe("auto");
      const last = limited.upstream.chatCalls[2]!.body;
      expect(last.tools).toBeUndefined();
      expect(last.tool_choice).toBeUndefined();
      expect(response.choices[0]!.message.tool_calls).toBeUndefined();
      expect(response.choices[0]!.message.content).toContain("2 tool steps");
      expect(response.choices[0]!.finish_reason).toBe("length");
    } finally {
      await limited.dispose();
    }
  });
});

describe("client-declared tools", () => {
  const briefTools = [
    {
      type: "function" as const,
      function: {
        name: "get_current_weather",
        description: "获得天气信息",
        parameters: {
          type: "object",
          properties: { location: { type: "string", description: "上海, 中国" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
          required: ["location"],
        },
      },
    },
  ];

  it("returns the brief's tool_calls to the client unexecuted, exactly as DMXAPI answered", async () => {
    switchboard.upstream.enqueue(reply.json(BRIEF_RESPONSE_TEXT));

    // The brief's Python example, as raw HTTP.
    const response = await switchboard.request("/v1/chat/completions", {
      method: "POST",
      headers: { Accept: "application/json", Authorization: `Bearer ${KEYS.tenantA}`, "Content-Type": "application/json" },
      body: JSON.stringify({ model: "gpt-5-mini", max_tokens: 16384, temperature: 1, stream: false, messages: weatherQuestion, tools: briefTools }),
    });

    expect(response.status).toBe(200);
    const body = (await response.json()) as JsonObject;
    const { conversation_id: conversationId, ...rest } = body;
    expect(rest).toEqual(JSON.parse(BRIEF_RESPONSE_TEXT));
    expect(conversationId).toMatch(/^conv_/);
    expect(response.headers.get("x-conversation-id")).toBe(conversationId);
    expect(switchboard.upstream.openMeteoCalls).toHaveLength(0);
    // The client's function replaced the server tool of the same name; parameters were forwarded.
    const sent = switchboard.upstream.chatCalls[0]!.body;
    expect((sent.tools as JsonObject[]).filter((tool) => (tool.function as JsonObject).name === "get_current_weather")).toEqual(briefTools);
    expect(sent).toMatchObject({ max_tokens: 16384, temperature: 1, model: "gpt-5-mini" });
  });

  it("runs server calls of a mixed step and hands only the client's calls back", async () => {
    const clientTool = { type: "function" as const, function: { name: "open_door", parameters: { type: "object", properties: {} } } };
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("calculate", { expression: "2+2" }, "call_server"), toolCall("open_door", {}, "call_client")));

    const response = await switchboard.openai.chat.completions.create({
      model: "gpt-5-mini",
      messages: [{ role: "user", content: "go" }],
      tools: [clientTool],
    });

    expect(switchboard.upstream.chatCalls).toHaveLength(1);
    expect(response.choices[0]!.finish_reason).toBe("tool_calls");
    // Only the client's call, under an id marked as half of a mixed step (see history/mixed-steps).
    const handedBack = response.choices[0]!.message.tool_calls! as Array<{ id: string; function: { name: string } }>;
    expect(handedBack.map((call) => call.function.name)).toEqual(["open_door"]);
    expect(handedBack[0]!.id).toMatch(/^call_sbx_/);

    // The client answers its call in the same conversation; the model sees both results.
    const conversationId = (response as unknown as JsonObject).conversation_id as string;
    await switchboard.openai.chat.completions.create({
      model: "gpt-5-mini",
      messages: [{ role: "tool", tool_call_id: handedBack[0]!.id, content: "door opened" }],
      conversation_id: conversationId,
    } as Parameters<typeof switchboard.openai.chat.completions.create>[0]);
    const followUp = sentMessages(1);
    expect(followUp.map((message) => message.role)).toEqual(["user", "assistant", "tool", "tool"]);
    expect(followUp.slice(2).map((message) => message.tool_call_id)).toEqual(["call_server", handedBack[0]!.id]);
  });
});
