import { describe, expect, it } from "vitest";
import { OFFLINE_MODEL_NAME } from "../../src/config.js";
import type { ChatMessage, FunctionToolDefinition } from "../../src/protocol/types.js";
import { chooseTool, offlineModelFetch, respond } from "../../src/upstream/offline-model.js";

const ALL = new Set(["get_current_weather", "get_current_time", "calculate", "notes"]);

const tool = (name: string): FunctionToolDefinition => ({
  type: "function",
  function: { name, description: name, parameters: { type: "object", properties: {} } },
});

const ENDPOINT = "https://offline-model.switchboard.invalid/v1/chat/completions";

function post(body: unknown): Promise<Response> {
  return offlineModelFetch(ENDPOINT, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

function sseEvents(text: string): string[] {
  return text
    .split("\n\n")
    .filter((block) => block.startsWith("data: "))
    .map((block) => block.slice("data: ".length));
}

describe("chooseTool", () => {
  it("calls any offered tool named after 'call', with the JSON object that follows as its arguments", () => {
    const offered = new Set([...ALL, "demo__add"]);
    expect(chooseTool('call demo__add {"a": 2, "b": 3}', offered)).toEqual({ name: "demo__add", arguments: { a: 2, b: 3 } });
    expect(chooseTool("call calculate", offered)).toEqual({ name: "calculate", arguments: {} });
    expect(chooseTool('call missing__tool {"a": 1}', offered)).toBeNull();
  });

  it("picks get_current_weather for 上海今天几度? with location 上海", () => {
    expect(chooseTool("上海今天几度?", ALL)).toEqual({ name: "get_current_weather", arguments: { location: "上海" } });
  });

  it("picks get_current_weather for an English question with the place after 'in'", () => {
    expect(chooseTool("What's the weather in Paris, France?", ALL)).toEqual({
      name: "get_current_weather",
      arguments: { location: "Paris, France" },
    });
  });

  it("drops a trailing 'today' from the place", () => {
    expect(chooseTool("What's the temperature in Berlin today?", ALL)?.arguments).toEqual({ location: "Berlin" });
  });

  it("picks get_current_time with the city's zone", () => {
    expect(chooseTool("What time is it in Tokyo?", ALL)).toEqual({ name: "get_current_time", arguments: { timezone: "Asia/Tokyo" } });
    expect(chooseTool("伦敦现在几点？", ALL)).toEqual({ name: "get_current_time", arguments: { timezone: "Europe/London" } });
  });

  it("picks get_current_time with an IANA zone named in the text", () => {
    expect(chooseTool("What time is it in America/Argentina/Buenos_Aires?", ALL)).toEqual({
      name: "get_current_time",
      arguments: { timezone: "America/Argentina/Buenos_Aires" },
    });
  });

  it("asks for UTC when the time question names no place", () => {
    expect(chooseTool("what time is it", ALL)?.arguments).toEqual({ timezone: "UTC" });
  });

  it("picks calculate for 'what is 12*(3+4)'", () => {
    expect(chooseTool("what is 12*(3+4)", ALL)).toEqual({ name: "calculate", arguments: { expression: "12*(3+4)" } });
  });

  it("picks calculate for a Chinese request with ×", () => {
    expect(chooseTool("计算 3 × 4", ALL)).toEqual({ name: "calculate", arguments: { expression: "3 × 4" } });
  });

  it("does not calculate a lone number", () => {
    expect(chooseTool("what is 2024", ALL)).toBeNull();
  });

  it("saves a note", () => {
    expect(chooseTool("Remember: buy milk", ALL)).toEqual({ name: "notes", arguments: { action: "save", text: "buy milk" } });
    expect(chooseTool("记住：明天十点开会", ALL)).toEqual({ name: "notes", arguments: { action: "save", text: "明天十点开会" } });
  });

  it("recalls notes", () => {
    expect(chooseTool("Show me my notes", ALL)).toEqual({ name: "notes", arguments: { action: "recall" } });
    expect(chooseTool("我记过什么？", ALL)).toEqual({ name: "notes", arguments: { action: "recall" } });
  });

  // BUG (src/upstream/offline-model.ts, chooseTool(), line 96): the save pattern is tried before the
  // recall pattern and matches "remember" anywhere with any trailing text, so a recall question such
  // as "What did I ask you to remember?" saves the note "?" instead of recalling. Fix: test the recall
  // pattern first, or require the saved text to contain a letter/CJK character and not be a question.
  it("recalls rather than saves for 'What did I ask you to remember?'", () => {
    expect(chooseTool("What did I ask you to remember?", ALL)).toEqual({ name: "notes", arguments: { action: "recall" } });
  });

  it("picks nothing when the matching tool is not offered", () => {
    expect(chooseTool("上海今天几度?", new Set(["calculate", "notes"]))).toBeNull();
    expect(chooseTool("What time is it in Tokyo?", new Set(["get_current_weather"]))).toBeNull();
    expect(chooseTool("what is 12*(3+4)", new Set())).toBeNull();
    expect(chooseTool("Remember: buy milk", new Set(["calculate"]))).toBeNull();
  });

  it("picks nothing for small talk", () => {
    expect(chooseTool("hello there", ALL)).toBeNull();
  });
});

describe("respond", () => {
  it("calls the chosen tool with a tool_calls message", () => {
    const completion = respond([{ role: "user", content: "上海今天几度?" }], [tool("get_current_weather")]);
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toHaveLength(1);
    const call = choice.message.tool_calls![0]!;
    expect(call).toMatchObject({ type: "function", function: { name: "get_current_weather" } });
    expect(call.id).toMatch(/^call_offline_/);
    expect(JSON.parse(call.function.arguments)).toEqual({ location: "上海" });
    expect(completion.model).toBe(OFFLINE_MODEL_NAME);
  });

  it("says it is the offline model when no tool fits", () => {
    const completion = respond([{ role: "user", content: "hello" }], [tool("calculate")]);
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe("stop");
    expect(choice.message.content).toMatch(/^\[offline model\] /);
    expect(choice.message.content).toContain("calculate");
    expect(choice.message.content).toContain("DMXAPI_API_KEY");
  });

  it("answers in Chinese to a Chinese question without tools", () => {
    const content = respond([{ role: "user", content: "你好" }], []).choices[0]!.message.content as string;
    expect(content).toMatch(/^\[offline model\] /);
    expect(content).toContain("无可用工具");
  });

  it("answers from a weather tool result", () => {
    const messages: ChatMessage[] = [
      { role: "user", content: "What's the weather in Paris?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_1", type: "function", function: { name: "get_current_weather", arguments: '{"location":"Paris"}' } }],
      },
      {
        role: "tool",
        tool_call_id: "call_1",
        content: JSON.stringify({ temperature: 18.5, unit: "celsius", location: "Paris", conditions: "cloudy", source: "open-meteo" }),
      },
    ];
    const choice = respond(messages, [tool("get_current_weather")]).choices[0]!;
    expect(choice.finish_reason).toBe("stop");
    expect(choice.message.content).toBe("[offline model] It is 18.5°C in Paris, cloudy (from open-meteo).");
  });

  it("answers from several results in order, in Chinese for a Chinese question", () => {
    const messages: ChatMessage[] = [
      { role: "user", content: "上海今天几度?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "a", type: "function", function: { name: "get_current_weather", arguments: "{}" } },
          { id: "b", type: "function", function: { name: "get_current_time", arguments: "{}" } },
        ],
      },
      { role: "tool", tool_call_id: "a", content: JSON.stringify({ temperature: 23.4, unit: "celsius", location: "上海" }) },
      { role: "tool", tool_call_id: "b", content: JSON.stringify({ iso: "2025-01-01T08:00:00+08:00", timezone: "Asia/Shanghai" }) },
    ];
    const content = respond(messages, []).choices[0]!.message.content as string;
    expect(content.startsWith("[offline model] ")).toBe(true);
    expect(content).toContain("上海当前气温 23.4°C");
    expect(content.indexOf("23.4")).toBeLessThan(content.indexOf("Asia/Shanghai 现在是"));
  });

  it("reports a tool error", () => {
    const messages: ChatMessage[] = [
      { role: "user", content: "what is 1/0" },
      { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "calculate", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "c", content: JSON.stringify({ error: { type: "tool_error", message: "division by zero" } }) },
    ];
    expect(respond(messages, []).choices[0]!.message.content).toBe("[offline model] The calculate tool failed: division by zero");
  });

  it("answers from a calculation, a saved note and plain text", () => {
    const run = (name: string, content: string) =>
      respond(
        [
          { role: "user", content: "go" },
          { role: "assistant", content: null, tool_calls: [{ id: "x", type: "function", function: { name, arguments: "{}" } }] },
          { role: "tool", tool_call_id: "x", content },
        ],
        [],
      ).choices[0]!.message.content;
    expect(run("calculate", JSON.stringify({ expression: "12*(3+4)", result_text: "84" }))).toBe("[offline model] 12*(3+4) = 84");
    expect(run("notes", JSON.stringify({ id: "n1", text: "buy milk", status: "saved" }))).toBe("[offline model] Saved: buy milk");
    expect(run("notes", JSON.stringify({ notes: [] }))).toBe("[offline model] There are no notes yet.");
    expect(run("echo", "plain words")).toBe("[offline model] echo returned: plain words");
  });

  it("reports usage", () => {
    const usage = respond([{ role: "user", content: "hello" }], []).usage!;
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    expect(usage.prompt_tokens).toBeGreaterThan(0);
  });
});

describe("offlineModelFetch", () => {
  it("answers a non-streaming request as a chat completion", async () => {
    const response = await post({ model: OFFLINE_MODEL_NAME, messages: [{ role: "user", content: "hello" }] });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { object: string; choices: Array<{ message: { content: string } }> };
    expect(body.object).toBe("chat.completion");
    expect(body.choices[0]!.message.content).toMatch(/^\[offline model\]/);
  });

  it("streams SSE chunks ending with data: [DONE]", async () => {
    const response = await post({
      model: OFFLINE_MODEL_NAME,
      messages: [{ role: "user", content: "hello" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const text = await response.text();
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    const events = sseEvents(text);
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events
      .slice(0, -1)
      .map((event) => JSON.parse(event) as { object: string; choices: Array<{ delta: { content?: string }; finish_reason: string | null }>; usage?: unknown });
    expect(chunks.every((chunk) => chunk.object === "chat.completion.chunk")).toBe(true);
    const content = chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta.content ?? "")).join("");
    expect(content).toMatch(/^\[offline model\] I am Switchboard's built-in offline model/);
    expect(chunks.some((chunk) => chunk.choices[0]?.finish_reason === "stop")).toBe(true);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ total_tokens: expect.any(Number) });
  });

  it("streams a tool call with id, type and name in its first fragment", async () => {
    const response = await post({
      model: OFFLINE_MODEL_NAME,
      messages: [{ role: "user", content: "What time is it in Tokyo?" }],
      tools: [tool("get_current_time")],
      stream: true,
    });
    const events = sseEvents(await response.text());
    expect(events.at(-1)).toBe("[DONE]");
    const deltas = events.slice(0, -1).map((event) => JSON.parse(event).choices[0]);
    const fragments = deltas.flatMap((choice) => choice?.delta?.tool_calls ?? []);
    expect(fragments[0]).toMatchObject({ index: 0, type: "function", function: { name: "get_current_time", arguments: "" } });
    expect(fragments[0].id).toMatch(/^call_offline_/);
    expect(JSON.parse(fragments.map((fragment: { function: { arguments: string } }) => fragment.function.arguments).join(""))).toEqual({
      timezone: "Asia/Tokyo",
    });
    expect(deltas.at(-1).finish_reason).toBe("tool_calls");
    // Without include_usage there is no usage chunk.
    expect(events.slice(0, -1).every((event) => JSON.parse(event).choices.length > 0)).toBe(true);
  });

  it("answers 404 to anything but POST /chat/completions", async () => {
    expect((await offlineModelFetch("https://offline-model.switchboard.invalid/v1/models")).status).toBe(404);
    expect((await offlineModelFetch(ENDPOINT, { method: "GET" })).status).toBe(404);
  });

  it("answers 400 to a body that is not JSON", async () => {
    const response = await offlineModelFetch(ENDPOINT, { method: "POST", body: "{nope" });
    expect(response.status).toBe(400);
  });
});
