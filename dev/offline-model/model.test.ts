import { describe, expect, it } from "vitest";
import type { ChatMessage, FunctionToolDefinition } from "../../src/protocol/types.js";
import { calculatorTool } from "../../tools/calculator/index.js";
import { clockTool } from "../../tools/clock/index.js";
import { notesTool } from "../../tools/notes/index.js";
import { weatherTool } from "../../tools/weather/index.js";
import { handleModelRequest } from "./index.js";
import { answerFromResults, planCalls, respond } from "./model.js";

// The real tools' definitions, as the orchestrator offers them: the model must read them, not know them.
const definition = (tool: { definition: { function: FunctionToolDefinition["function"] } }): FunctionToolDefinition => ({
  type: "function",
  function: tool.definition.function,
});
const ALL = [weatherTool, clockTool, calculatorTool, notesTool].map(definition);
const only = (...names: string[]) => ALL.filter((tool) => names.includes(tool.function.name));

/** A tool the model has never seen, declared only by its schema. */
const wordStats: FunctionToolDefinition = {
  type: "function",
  function: {
    name: "word_stats",
    description: "Count the characters, words, sentences and lines of a text.",
    parameters: {
      type: "object",
      properties: { text: { type: "string", description: "The text to analyse." }, top: { type: "integer", description: "How many frequent words." } },
      required: ["text"],
    },
  },
};

const user = (content: string): ChatMessage => ({ role: "user", content });
const plan = (text: string, tools = ALL, history: ChatMessage[] = [], toolChoice?: unknown) => planCalls([...history, user(text)], tools, toolChoice);
const call = (name: string, args: unknown, id = "call_1"): ChatMessage => ({
  role: "assistant",
  content: null,
  tool_calls: [{ id, type: "function", function: { name, arguments: JSON.stringify(args) } }],
});
const result = (content: unknown, id = "call_1"): ChatMessage => ({ role: "tool", tool_call_id: id, content: JSON.stringify(content) });

const OFFLINE_MODEL_BASE_URL = "http://offline-model.test/v1";
const ENDPOINT = `${OFFLINE_MODEL_BASE_URL}/chat/completions`;
const post = (body: unknown) =>
  handleModelRequest(new Request(ENDPOINT, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }));

function sseEvents(text: string): string[] {
  return text
    .split("\n\n")
    .filter((block) => block.startsWith("data: "))
    .map((block) => block.slice("data: ".length));
}

describe("choosing a tool from the user's words", () => {
  it("asks the weather tool about 上海 for 上海今天几度?", () => {
    expect(plan("上海今天几度?")).toEqual([{ name: "get_current_weather", arguments: { location: "上海" } }]);
  });

  it("takes the place after 'in', with its qualifier and without a trailing 'today'", () => {
    expect(plan("What's the weather in Paris, France?")).toEqual([{ name: "get_current_weather", arguments: { location: "Paris, France" } }]);
    expect(plan("What's the temperature in Berlin today?")).toEqual([{ name: "get_current_weather", arguments: { location: "Berlin" } }]);
    expect(plan("How cold is it in Berlin?")).toEqual([{ name: "get_current_weather", arguments: { location: "Berlin" } }]);
  });

  it("makes one parallel call per place", () => {
    expect(plan("What's the weather in New York and London?")).toEqual([
      { name: "get_current_weather", arguments: { location: "New York" } },
      { name: "get_current_weather", arguments: { location: "London" } },
    ]);
    expect(plan("上海和北京今天几度")).toEqual([
      { name: "get_current_weather", arguments: { location: "上海" } },
      { name: "get_current_weather", arguments: { location: "北京" } },
    ]);
  });

  it("asks the clock for a city's IANA zone, in English and Chinese", () => {
    expect(plan("What time is it in Tokyo?")).toEqual([{ name: "get_current_time", arguments: { timezone: "Asia/Tokyo" } }]);
    expect(plan("伦敦现在几点？")).toEqual([{ name: "get_current_time", arguments: { timezone: "Europe/London" } }]);
    expect(plan("What time is it in America/Argentina/Buenos_Aires?")).toEqual([
      { name: "get_current_time", arguments: { timezone: "America/Argentina/Buenos_Aires" } },
    ]);
  });

  it("leaves an optional zone out when no place is named (the tool's default applies)", () => {
    expect(plan("what time is it")).toEqual([{ name: "get_current_time", arguments: {} }]);
  });

  it("calculates what the words ask, English, Chinese or written as an expression", () => {
    expect(plan("what is 12*(3+4)")).toEqual([{ name: "calculate", arguments: { expression: "12*(3+4)" } }]);
    expect(plan("计算 3 × 4")).toEqual([{ name: "calculate", arguments: { expression: "3 × 4" } }]);
    expect(plan("2的10次方加3")).toEqual([{ name: "calculate", arguments: { expression: "2^10+3" } }]);
    expect(plan("sqrt(16) * pi")).toEqual([{ name: "calculate", arguments: { expression: "sqrt(16) * pi" } }]);
    expect(plan("what is 2 plus 2?")).toEqual([{ name: "calculate", arguments: { expression: "2 + 2" } }]);
  });

  it("does not calculate a lone number", () => {
    expect(plan("what is 2024")).toEqual([]);
  });

  it("saves a note with the words after the command", () => {
    expect(plan("Remember: buy milk")).toEqual([{ name: "notes", arguments: { action: "save", text: "buy milk" } }]);
    expect(plan("remember my locker is 42")).toEqual([{ name: "notes", arguments: { action: "save", text: "my locker is 42" } }]);
    expect(plan("记住：明天十点开会")).toEqual([{ name: "notes", arguments: { action: "save", text: "明天十点开会" } }]);
  });

  it("recalls notes when asked about what was kept, even when the question says 'remember'", () => {
    for (const text of ["Show me my notes", "我记过什么？", "What did I ask you to remember?", "what is my locker number?"]) {
      expect(plan(text)).toEqual([{ name: "notes", arguments: { action: "recall" } }]);
    }
  });

  it("follows up on the previous call: 'And in Fahrenheit?' keeps the place, 'And in London?' keeps the tool", () => {
    const history = [
      user("上海今天几度?"),
      call("get_current_weather", { location: "上海" }),
      result({ temperature: 23.4 }),
      { role: "assistant", content: "23.4" } as ChatMessage,
    ];
    expect(plan("And in Fahrenheit?", ALL, history)).toEqual([{ name: "get_current_weather", arguments: { location: "上海", unit: "fahrenheit" } }]);
    expect(plan("And in London?", ALL, history)).toEqual([{ name: "get_current_weather", arguments: { location: "London" } }]);
  });

  it("has nothing to follow up without a previous call", () => {
    expect(plan("And in Fahrenheit?")).toEqual([]);
  });

  it("picks only among the tools offered", () => {
    expect(plan("上海今天几度?", only("calculate", "notes"))).toEqual([]);
    expect(plan("What time is it in Tokyo?", only("get_current_weather"))).toEqual([{ name: "get_current_weather", arguments: { location: "Tokyo" } }]);
    expect(plan("what is 12*(3+4)", [])).toEqual([]);
    expect(plan("Remember: buy milk", only("calculate"))).toEqual([]);
  });

  it("finds a tool it has never seen from its name and description", () => {
    expect(plan('How many words are in "The cat sat on the mat"?', [...ALL, wordStats])).toEqual([
      { name: "word_stats", arguments: { text: "The cat sat on the mat" } },
    ]);
  });

  it("calls the tool a named tool_choice asks for, filling what it can", () => {
    const choice = { type: "function", function: { name: "word_stats" } };
    expect(plan("The quick brown fox", [...ALL, wordStats], [], choice)).toEqual([{ name: "word_stats", arguments: { text: "The quick brown fox" } }]);
    expect(plan("上海今天几度?", ALL, [], { type: "function", function: { name: "get_current_time" } })).toEqual([
      { name: "get_current_time", arguments: { timezone: "Asia/Shanghai" } },
    ]);
  });

  it("calls no tool for tool_choice none or small talk, and some tool for required", () => {
    expect(plan("上海今天几度?", ALL, [], "none")).toEqual([]);
    expect(plan("hello there")).toEqual([]);
    expect(plan("hello there", only("get_current_time"), [], "required")).toEqual([{ name: "get_current_time", arguments: {} }]);
  });
});

describe("answering from tool results", () => {
  it("leads with what the question asks about", () => {
    const answer = answerFromResults([
      user("what is my locker number?"),
      call("notes", { action: "recall" }),
      result({
        notes: [
          { id: "n1", text: "buy milk", saved_at: "2026-11-23T10:00:00Z" },
          { id: "n2", text: "my locker is 42", saved_at: "2026-11-23T10:01:00Z" },
        ],
      }),
    ]);
    expect(answer).toMatch(/^From notes: text my locker is 42, text buy milk/);
  });

  it("answers a Chinese question in Chinese, the asked-for value first, ids and coordinates left out", () => {
    const answer = answerFromResults([
      user("上海今天几度?"),
      call("get_current_weather", { location: "上海" }),
      result({ location: "上海, 中国", latitude: 31.2, longitude: 121.5, temperature: 23.4, unit: "celsius", conditions: "mainly clear" }),
    ]);
    expect(answer).toBe("根据 get_current_weather：temperature 23.4，location 上海, 中国，unit celsius，conditions mainly clear。");
  });

  it("answers from several results in order", () => {
    const answer = answerFromResults([
      user("weather in New York and London?"),
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "a", type: "function", function: { name: "get_current_weather", arguments: "{}" } },
          { id: "b", type: "function", function: { name: "get_current_weather", arguments: "{}" } },
        ],
      },
      result({ location: "New York", temperature: 5 }, "a"),
      result({ location: "London", temperature: 9 }, "b"),
    ]);
    expect(answer.indexOf("New York")).toBeGreaterThan(-1);
    expect(answer.indexOf("New York")).toBeLessThan(answer.indexOf("London"));
  });

  it("reports a tool error, plain text and an empty result", () => {
    const run = (content: string) =>
      respond({ messages: [user("go"), call("calculate", {}), { role: "tool", tool_call_id: "call_1", content }], tools: [] }).choices[0]!.message.content;
    expect(run(JSON.stringify({ error: { type: "tool_error", message: "division by zero" } }))).toBe(
      "[offline model] The calculate tool failed: division by zero",
    );
    expect(run("plain words")).toBe("[offline model] calculate returned: plain words");
    expect(run(JSON.stringify({ notes: [] }))).toBe("[offline model] calculate returned nothing.");
    expect(run(JSON.stringify({ expression: "2^10+3", result: 1027, result_text: "1027" }))).toBe(
      "[offline model] From calculate: expression 2^10+3, result 1027.",
    );
  });
});

describe("respond", () => {
  it("answers with tool_calls, ids and the requested model", () => {
    const completion = respond({ model: "gpt-5-mini", messages: [user("What's the weather in New York and London?")], tools: ALL });
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls!.map((toolCall) => JSON.parse(toolCall.function.arguments))).toEqual([{ location: "New York" }, { location: "London" }]);
    expect(new Set(choice.message.tool_calls!.map((toolCall) => toolCall.id)).size).toBe(2);
    expect(choice.message.tool_calls![0]!.id).toMatch(/^call_offline_/);
    expect(completion.model).toBe("gpt-5-mini");
  });

  it("lists what it can do when no tool fits", () => {
    const choice = respond({ messages: [user("hello")], tools: ALL }).choices[0]!;
    expect(choice.finish_reason).toBe("stop");
    const content = choice.message.content as string;
    expect(content).toMatch(/^\[offline model\] I am Switchboard's built-in offline model/);
    for (const tool of ALL) expect(content).toContain(`- ${tool.function.name}: `);
    expect(content).toContain("DMXAPI_API_KEY");
  });

  it("answers in Chinese to a Chinese question without tools", () => {
    const content = respond({ messages: [user("你好")], tools: [] }).choices[0]!.message.content as string;
    expect(content).toMatch(/^\[offline model\] /);
    expect(content).toContain("无可用工具");
  });

  it("reports usage", () => {
    const usage = respond({ messages: [user("hello")], tools: [] }).usage!;
    expect(usage.prompt_tokens).toBeGreaterThan(0);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
  });
});

describe("the offline model over HTTP", () => {
  it("answers a non-streaming request as a chat completion", async () => {
    const response = await post({ model: "m", messages: [user("hello")] });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { object: string; model: string; choices: Array<{ message: { content: string } }> };
    expect(body.object).toBe("chat.completion");
    expect(body.model).toBe("m");
    expect(body.choices[0]!.message.content).toMatch(/^\[offline model\]/);
  });

  it("streams SSE chunks ending with data: [DONE], with usage when asked", async () => {
    const response = await post({ messages: [user("hello")], stream: true, stream_options: { include_usage: true } });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const events = sseEvents(await response.text());
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events
      .slice(0, -1)
      .map((event) => JSON.parse(event) as { object: string; choices: Array<{ delta: { content?: string }; finish_reason: string | null }>; usage?: unknown });
    expect(chunks.every((chunk) => chunk.object === "chat.completion.chunk")).toBe(true);
    expect(chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta.content ?? "")).join("")).toMatch(
      /^\[offline model\] I am Switchboard's built-in offline model/,
    );
    expect(chunks.some((chunk) => chunk.choices[0]?.finish_reason === "stop")).toBe(true);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage).toMatchObject({ total_tokens: expect.any(Number) });
  });

  it("streams a tool call with id, type and name in its first fragment", async () => {
    const response = await post({ messages: [user("What time is it in Tokyo?")], tools: only("get_current_time"), stream: true });
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

  it("answers 404 to anything but POST /chat/completions, and 400 to a body that is not a chat request", async () => {
    expect((await handleModelRequest(new Request(`${OFFLINE_MODEL_BASE_URL}/models`))).status).toBe(404);
    expect((await handleModelRequest(new Request(ENDPOINT))).status).toBe(404);
    expect((await handleModelRequest(new Request(ENDPOINT, { method: "POST", body: "{nope" }))).status).toBe(400);
    expect((await post({ prompt: "hi" })).status).toBe(400);
  });
});
