import { describe, expect, it } from "vitest";
import type { ToolCallContext } from "../../kit/protocol.js";
import type { ModelPort } from "../../src/loop/model-port.js";
import type { LoopLimits, ToolLoopInput, ToolResultEvent } from "../../src/loop/tool-loop.js";
import { runToolLoop } from "../../src/loop/tool-loop.js";
import type {
  AssistantMessage,
  ChatCompletion,
  ChatCompletionRequest,
  ChatMessage,
  FunctionToolDefinition,
  JsonObject,
  ToolMessage,
  Usage,
} from "../../src/protocol/types.js";
import type { InvokeOptions, ServerTool, ToolOutcome, ToolRegistry } from "../../src/tools/registry.js";

// ---- fakes -------------------------------------------------------------------------------------

interface Invocation {
  tool: string;
  args: JsonObject;
  context: ToolCallContext;
  options: InvokeOptions;
}

function serverTool(name: string, validate: (args: JsonObject) => string[] = () => []): ServerTool {
  return {
    name,
    definition: { type: "function", function: { name, description: `server ${name}`, parameters: { type: "object", properties: {} } } },
    version: "1",
    sideEffects: false,
    binding: `TOOL_${name.toUpperCase()}`,
    validate,
  };
}

function clientTool(name: string): FunctionToolDefinition {
  return { type: "function", function: { name, description: `client ${name}`, parameters: { type: "object", properties: {} } } };
}

/** A registry whose tools answer from `handlers`; every invocation is recorded. */
function fakeRegistry(handlers: Record<string, (args: JsonObject) => ToolOutcome | Promise<ToolOutcome>>) {
  const invocations: Invocation[] = [];
  const registry: ToolRegistry = {
    async list() {
      return Object.keys(handlers).map((name) => serverTool(name));
    },
    async invoke(tool, args, context, options) {
      invocations.push({ tool: tool.name, args, context, options });
      const handler = handlers[tool.name];
      if (!handler) throw new Error(`no handler for ${tool.name}`);
      return handler(args);
    },
  };
  return { registry, invocations };
}

type Call = { id?: unknown; name: string; arguments?: unknown } & JsonObject;

function completion(message: Partial<AssistantMessage> & JsonObject, options: { finish?: string | null; usage?: Usage | null } = {}): ChatCompletion {
  return {
    id: "chatcmpl-test",
    object: "chat.completion",
    created: 1,
    model: "gpt-5-mini",
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: null, ...message } as AssistantMessage,
        finish_reason: options.finish === undefined ? "stop" : options.finish,
      },
    ],
    usage: options.usage === undefined ? { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } : options.usage,
  };
}

const answer = (content: string, usage?: Usage | null) => completion({ content }, usage === undefined ? {} : { usage });
const callTools = (calls: Call[], extra: JsonObject = {}) =>
  completion(
    {
      content: null,
      ...extra,
      tool_calls: calls.map(({ id, name, arguments: args, ...rest }) => ({
        ...(id === undefined ? {} : { id }),
        type: "function",
        function: { name, arguments: args === undefined ? "{}" : args },
        ...rest,
      })) as unknown as AssistantMessage["tool_calls"],
    },
    { finish: "tool_calls" },
  );

/** A model port that answers from a script and records every request it was sent. */
function scriptedModel(script: Array<ChatCompletion | ((request: ChatCompletionRequest) => ChatCompletion)>) {
  const requests: ChatCompletionRequest[] = [];
  const complete = async (request: ChatCompletionRequest): Promise<ChatCompletion> => {
    requests.push(structuredClone(request));
    const next = script.shift();
    if (!next) throw new Error(`model called more often than scripted (call ${requests.length})`);
    return typeof next === "function" ? next(request) : next;
  };
  const model: ModelPort = {
    defaultModel: "gpt-5-mini",
    complete,
    // Streams the scripted answer's text in two pieces, as an upstream would.
    async stream(request, listener) {
      const completion = await complete(request);
      listener.onOpen?.();
      const text = String(completion.choices[0]?.message.content ?? "");
      for (const piece of [text.slice(0, 2), text.slice(2)]) if (piece) await listener.onDelta({ content: piece });
      return completion;
    },
  };
  return { model, requests };
}

const limits: LoopLimits = { maxSteps: 4, toolTimeoutMs: 1000, maxToolCallsPerStep: 8, maxToolOutputChars: 10_000 };
const userInput: ChatMessage[] = [{ role: "user", content: "上海今天几度?" }];

function loopInput(overrides: Partial<ToolLoopInput> & Pick<ToolLoopInput, "model" | "registry">): ToolLoopInput {
  return {
    serverTools: [],
    clientTools: [],
    history: [],
    input: userInput,
    parameters: { model: "gpt-5-mini" },
    limits,
    context: { conversation_id: "conv_1", request_id: "req_1", tenant: "default" },
    turnId: "turn_1",
    ...overrides,
  };
}

const toolMessages = (messages: ChatMessage[]) => messages.filter((message): message is ToolMessage => message.role === "tool");
const errorOf = (message: ToolMessage | undefined) => (JSON.parse(message!.content as string) as { error: { type: string; message: string } }).error;

// ---- tests -------------------------------------------------------------------------------------

describe("runToolLoop", () => {
  it("returns the model's answer when it calls no tools", async () => {
    const model = scriptedModel([answer("It is 23°C.")]);
    const { registry, invocations } = fakeRegistry({ get_current_weather: () => ({ ok: true, result: {} }) });
    const result = await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("get_current_weather")] }));
    expect(result.steps).toBe(1);
    expect(result.completion.choices[0]!.message).toEqual({ role: "assistant", content: "It is 23°C." });
    expect(result.completion.choices[0]!.finish_reason).toBe("stop");
    expect(result.messages).toEqual([...userInput, { role: "assistant", content: "It is 23°C." }]);
    expect(invocations).toEqual([]);
    expect(model.requests[0]!.tools!.map((tool) => tool.function.name)).toEqual(["get_current_weather"]);
  });

  it("sends history and input to the model but returns only the turn's messages", async () => {
    const history: ChatMessage[] = [
      { role: "user", content: "earlier" },
      { role: "assistant", content: "earlier answer" },
    ];
    const model = scriptedModel([answer("ok")]);
    const result = await runToolLoop(loopInput({ ...model, registry: fakeRegistry({}).registry, history }));
    expect(model.requests[0]!.messages).toEqual([...history, ...userInput]);
    expect(result.messages).toEqual([...userInput, { role: "assistant", content: "ok" }]);
  });

  it("forwards the client's parameters and sends no tools when there are none", async () => {
    const model = scriptedModel([answer("ok")]);
    await runToolLoop(
      loopInput({
        ...model,
        registry: fakeRegistry({}).registry,
        parameters: { model: "m", temperature: 0.2, tool_choice: "required", parallel_tool_calls: false },
      }),
    );
    const request = model.requests[0]!;
    expect(request).toMatchObject({ model: "m", temperature: 0.2 });
    expect(request).not.toHaveProperty("tools");
    expect(request).not.toHaveProperty("tool_choice");
    expect(request).not.toHaveProperty("parallel_tool_calls");
  });

  it("answers parallel calls in the order the model made them", async () => {
    const model = scriptedModel([
      callTools([
        { id: "call_slow", name: "slow", arguments: '{"n":1}' },
        { id: "call_fast", name: "fast", arguments: '{"n":2}' },
      ]),
      answer("done"),
    ]);
    const finished: string[] = [];
    const { registry } = fakeRegistry({
      slow: async () => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        finished.push("slow");
        return { ok: true, result: { from: "slow" } };
      },
      fast: async () => {
        finished.push("fast");
        return { ok: true, result: { from: "fast" } };
      },
    });
    const result = await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("slow"), serverTool("fast")] }));
    expect(finished).toEqual(["fast", "slow"]); // they ran at once
    const [assistant, first, second] = result.messages.slice(1);
    expect((assistant as AssistantMessage).tool_calls!.map((call) => call.id)).toEqual(["call_slow", "call_fast"]);
    expect(first).toEqual({ role: "tool", tool_call_id: "call_slow", content: '{"from":"slow"}' });
    expect(second).toEqual({ role: "tool", tool_call_id: "call_fast", content: '{"from":"fast"}' });
    // The second request carries the assistant message followed directly by its tool messages.
    expect(model.requests[1]!.messages.slice(-3)).toEqual([assistant, first, second]);
    expect(result.steps).toBe(2);
    expect(result.messages.at(-1)).toEqual({ role: "assistant", content: "done" });
  });

  it("runs tools when tool_calls come with finish_reason stop", async () => {
    const calls = callTools([{ id: "c1", name: "echo" }]);
    calls.choices[0]!.finish_reason = "stop";
    const model = scriptedModel([calls, answer("done")]);
    const { registry, invocations } = fakeRegistry({ echo: () => ({ ok: true, result: "hi" }) });
    await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("echo")] }));
    expect(invocations).toHaveLength(1);
  });

  it("passes parsed arguments, a context with an idempotency key, and the timeout to the tool", async () => {
    const model = scriptedModel([callTools([{ id: "call_w", name: "weather", arguments: '{"location":"上海"}' }]), answer("done")]);
    const { registry, invocations } = fakeRegistry({ weather: () => ({ ok: true, result: {} }) });
    await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("weather")] }));
    expect(invocations[0]).toMatchObject({
      tool: "weather",
      args: { location: "上海" },
      context: {
        conversation_id: "conv_1",
        request_id: "req_1",
        tenant: "default",
        tool_call_id: "call_w",
        turn_id: "turn_1",
        idempotency_key: "default:conv_1:turn_1:1:0:weather",
      },
      options: { timeoutMs: 1000 },
    });
  });

  it("keys tool side effects on the turn, step and position, not on the model's call ids, so a re-run turn repeats none", async () => {
    const run = async (callIds: [string, string]) => {
      const model = scriptedModel([
        callTools([
          { id: callIds[0], name: "weather", arguments: '{"location":"上海"}' },
          { id: callIds[1], name: "weather", arguments: '{"location":"北京"}' },
        ]),
        callTools([{ id: `${callIds[0]}-again`, name: "weather", arguments: '{"location":"广州"}' }]),
        answer("done"),
      ]);
      const { registry, invocations } = fakeRegistry({ weather: () => ({ ok: true, result: {} }) });
      await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("weather")] }));
      return invocations.map((invocation) => invocation.context.idempotency_key).sort();
    };
    const first = await run(["call_a", "call_b"]);
    const rerun = await run(["call_x", "call_y"]);
    expect(first).toEqual(["default:conv_1:turn_1:1:0:weather", "default:conv_1:turn_1:1:1:weather", "default:conv_1:turn_1:2:0:weather"]);
    expect(rerun).toEqual(first);
  });

  it("answers a call to an unknown tool with an error tool message", async () => {
    const model = scriptedModel([callTools([{ id: "c1", name: "teleport" }]), answer("sorry")]);
    const { registry, invocations } = fakeRegistry({ weather: () => ({ ok: true, result: {} }) });
    const result = await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("weather")] }));
    expect(invocations).toEqual([]);
    const [message] = toolMessages(result.messages);
    expect(message!.tool_call_id).toBe("c1");
    expect(errorOf(message)).toMatchObject({ type: "unknown_tool" });
    expect(errorOf(message).message).toContain("weather");
  });

  it("answers arguments that fail the tool's schema with an error, without invoking it", async () => {
    const model = scriptedModel([callTools([{ id: "c1", name: "weather", arguments: '{"unit":"kelvin"}' }]), answer("sorry")]);
    const { registry, invocations } = fakeRegistry({ weather: () => ({ ok: true, result: {} }) });
    const strict = serverTool("weather", (args) => ("location" in args ? [] : ['#: Instance does not have required property "location".']));
    const result = await runToolLoop(loopInput({ ...model, registry, serverTools: [strict] }));
    expect(invocations).toEqual([]);
    const error = errorOf(toolMessages(result.messages)[0]);
    expect(error.type).toBe("invalid_arguments");
    expect(error.message).toContain("location");
  });

  it("answers malformed arguments with an error and echoes them as {}", async () => {
    const model = scriptedModel([callTools([{ id: "c1", name: "weather", arguments: '{"location":"上' }]), answer("sorry")]);
    const { registry, invocations } = fakeRegistry({ weather: () => ({ ok: true, result: {} }) });
    const result = await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("weather")] }));
    expect(invocations).toEqual([]);
    expect(errorOf(toolMessages(result.messages)[0]).type).toBe("invalid_arguments");
    expect((result.messages[1] as AssistantMessage).tool_calls![0]!.function.arguments).toBe("{}");
  });

  it("passes a tool's failure to the model as an error object", async () => {
    const model = scriptedModel([callTools([{ id: "c1", name: "weather" }]), answer("sorry")]);
    const { registry } = fakeRegistry({ weather: () => ({ ok: false, type: "tool_timeout", message: "too slow" }) });
    const result = await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("weather")] }));
    expect(errorOf(toolMessages(result.messages)[0])).toEqual({ type: "tool_timeout", message: "too slow" });
  });

  it("makes a final call without tools at the step limit and reports finish_reason length", async () => {
    const model = scriptedModel([callTools([{ id: "c1", name: "echo" }]), callTools([{ id: "c2", name: "echo" }]), callTools([{ id: "c3", name: "echo" }])]);
    const { registry, invocations } = fakeRegistry({ echo: () => ({ ok: true, result: "again" }) });
    const result = await runToolLoop(
      loopInput({
        ...model,
        registry,
        serverTools: [serverTool("echo")],
        clientTools: [clientTool("ask_user")],
        parameters: { model: "gpt-5-mini", tool_choice: "auto", parallel_tool_calls: true },
        limits: { ...limits, maxSteps: 2 },
      }),
    );
    expect(model.requests).toHaveLength(3);
    expect(invocations).toHaveLength(2);
    expect(model.requests[1]).toHaveProperty("tools");
    const final = model.requests[2]!;
    expect(final).not.toHaveProperty("tools");
    expect(final).not.toHaveProperty("tool_choice");
    expect(final).not.toHaveProperty("parallel_tool_calls");
    expect(result.steps).toBe(3);
    const choice = result.completion.choices[0]!;
    expect(choice.finish_reason).toBe("length");
    expect(choice.message).not.toHaveProperty("tool_calls");
    expect(choice.message.content).toContain("2 tool steps");
    // The stored turn never ends in unanswered tool calls.
    const last = result.messages.at(-1) as AssistantMessage;
    expect(last.role).toBe("assistant");
    expect(last.tool_calls).toBeUndefined();
  });

  it("keeps the final step's answer as it is when the model answers", async () => {
    const model = scriptedModel([callTools([{ id: "c1", name: "echo" }]), answer("final words")]);
    const { registry } = fakeRegistry({ echo: () => ({ ok: true, result: "x" }) });
    const result = await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("echo")], limits: { ...limits, maxSteps: 1 } }));
    expect(model.requests[1]).not.toHaveProperty("tools");
    expect(result.completion.choices[0]!.finish_reason).toBe("stop");
    expect(result.completion.choices[0]!.message.content).toBe("final words");
  });

  it("resets a forced tool_choice to auto after step 1", async () => {
    for (const forced of ["required", { type: "function", function: { name: "echo" } }] as const) {
      const model = scriptedModel([callTools([{ id: "c1", name: "echo" }]), callTools([{ id: "c2", name: "echo" }]), answer("done")]);
      const { registry } = fakeRegistry({ echo: () => ({ ok: true, result: "x" }) });
      await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("echo")], parameters: { model: "m", tool_choice: forced } }));
      expect(model.requests[0]!.tool_choice).toEqual(forced);
      expect(model.requests[1]!.tool_choice).toBe("auto");
      expect(model.requests[2]!.tool_choice).toBe("auto");
    }
  });

  it("keeps a non-forcing tool_choice and parallel_tool_calls on every step", async () => {
    const model = scriptedModel([callTools([{ id: "c1", name: "echo" }]), answer("done")]);
    const { registry } = fakeRegistry({ echo: () => ({ ok: true, result: "x" }) });
    await runToolLoop(
      loopInput({ ...model, registry, serverTools: [serverTool("echo")], parameters: { model: "m", tool_choice: "auto", parallel_tool_calls: false } }),
    );
    for (const request of model.requests) expect(request).toMatchObject({ tool_choice: "auto", parallel_tool_calls: false });
  });

  it("lets a client tool shadow a server tool of the same name", async () => {
    const model = scriptedModel([callTools([{ id: "c1", name: "get_current_weather", arguments: '{"location":"Paris"}' }])]);
    const { registry, invocations } = fakeRegistry({ get_current_weather: () => ({ ok: true, result: "server" }) });
    const result = await runToolLoop(
      loopInput({
        ...model,
        registry,
        serverTools: [serverTool("get_current_weather"), serverTool("other")],
        clientTools: [clientTool("get_current_weather")],
      }),
    );
    const tools = model.requests[0]!.tools!;
    expect(tools.filter((tool) => tool.function.name === "get_current_weather")).toEqual([clientTool("get_current_weather")]);
    expect(tools.map((tool) => tool.function.name).sort()).toEqual(["get_current_weather", "other"]);
    expect(invocations).toEqual([]);
    expect(result.completion.choices[0]!.finish_reason).toBe("tool_calls");
    expect(result.completion.choices[0]!.message.tool_calls!.map((call) => call.id)).toEqual(["c1"]);
    expect(toolMessages(result.messages)).toEqual([]);
  });

  it("runs the server calls of a mixed step and hands only the client's calls back", async () => {
    const model = scriptedModel([
      callTools([
        { id: "call_server", name: "weather" },
        { id: "call_client", name: "ask_user", arguments: '{"q":"which city?"}' },
      ]),
    ]);
    const { registry, invocations } = fakeRegistry({ weather: () => ({ ok: true, result: { temperature: 20 } }) });
    const result = await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("weather")], clientTools: [clientTool("ask_user")] }));
    expect(model.requests).toHaveLength(1);
    expect(invocations.map((entry) => entry.tool)).toEqual(["weather"]);
    const choice = result.completion.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    // The client's call, under an id marked as half of a mixed step.
    const [clientCall] = choice.message.tool_calls!;
    expect(choice.message.tool_calls).toHaveLength(1);
    expect(clientCall).toMatchObject({ id: expect.stringMatching(/^call_sbx_[A-Za-z0-9]{24}$/), function: { name: "ask_user" } });
    // Stored: the full assistant message, then the server call's answer; the client answers the rest.
    const [, assistant, tool] = result.messages;
    expect((assistant as AssistantMessage).tool_calls!.map((call) => call.id)).toEqual(["call_server", clientCall!.id]);
    expect(tool).toEqual({ role: "tool", tool_call_id: "call_server", content: '{"temperature":20}' });
    expect(result.messages).toHaveLength(3);
    // Remembered whole, so a stateless follow-up can have the server's half put back.
    expect(result.mixedStep).toEqual({ assistant, results: [tool] });
  });

  it("keeps the model's ids when a step calls only client functions", async () => {
    const model = scriptedModel([callTools([{ id: "call_client", name: "ask_user", arguments: "{}" }])]);
    const result = await runToolLoop(loopInput({ ...model, registry: fakeRegistry({}).registry, clientTools: [clientTool("ask_user")] }));
    expect(result.completion.choices[0]!.message.tool_calls!.map((call) => call.id)).toEqual(["call_client"]);
    expect(result.mixedStep).toBeUndefined();
  });

  it("answers calls beyond maxToolCallsPerStep with an error instead of running them", async () => {
    const model = scriptedModel([
      callTools([
        { id: "c1", name: "echo" },
        { id: "c2", name: "echo" },
        { id: "c3", name: "echo" },
      ]),
      answer("done"),
    ]);
    const { registry, invocations } = fakeRegistry({ echo: () => ({ ok: true, result: "x" }) });
    const result = await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("echo")], limits: { ...limits, maxToolCallsPerStep: 2 } }));
    expect(invocations).toHaveLength(2);
    const messages = toolMessages(result.messages);
    expect(messages.map((message) => message.tool_call_id)).toEqual(["c1", "c2", "c3"]);
    expect(messages[0]!.content).toBe("x");
    expect(errorOf(messages[2]).type).toBe("too_many_tool_calls");
  });

  it("cuts tool output over maxToolOutputChars and says so", async () => {
    const model = scriptedModel([callTools([{ id: "c1", name: "big" }]), answer("done")]);
    const { registry } = fakeRegistry({ big: () => ({ ok: true, result: "a".repeat(1000) }) });
    const result = await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("big")], limits: { ...limits, maxToolOutputChars: 300 } }));
    const content = toolMessages(result.messages)[0]!.content as string;
    expect(content.startsWith(`${"a".repeat(300)}…`)).toBe(true);
    expect(content).not.toContain("a".repeat(301));
    expect(content).toContain("[Tool output cut at 300 of 1000 characters.]");
  });

  it("does not cut output at the limit", async () => {
    const model = scriptedModel([callTools([{ id: "c1", name: "exact" }]), answer("done")]);
    const { registry } = fakeRegistry({ exact: () => ({ ok: true, result: "b".repeat(300) }) });
    const result = await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("exact")], limits: { ...limits, maxToolOutputChars: 300 } }));
    expect(toolMessages(result.messages)[0]!.content).toBe("b".repeat(300));
  });

  it("sums usage over every model call", async () => {
    const model = scriptedModel([
      {
        ...callTools([{ id: "c1", name: "echo" }]),
        usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120, prompt_tokens_details: { cached_tokens: 10 } },
      },
      answer("done", { prompt_tokens: 150, completion_tokens: 30, total_tokens: 180, prompt_tokens_details: { cached_tokens: 90 } }),
    ]);
    const { registry } = fakeRegistry({ echo: () => ({ ok: true, result: "x" }) });
    const result = await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("echo")] }));
    const expected = { prompt_tokens: 250, completion_tokens: 50, total_tokens: 300, prompt_tokens_details: { cached_tokens: 100 } };
    expect(result.usage).toEqual(expected);
    expect(result.completion.usage).toEqual(expected);
  });

  it("reports null usage when the model reports none", async () => {
    const model = scriptedModel([answer("ok", null)]);
    const result = await runToolLoop(loopInput({ ...model, registry: fakeRegistry({}).registry }));
    expect(result.usage).toBeNull();
  });

  it("never sends an empty tool content", async () => {
    const model = scriptedModel([
      callTools([
        { id: "c1", name: "empty" },
        { id: "c2", name: "nothing" },
      ]),
      answer("done"),
    ]);
    const { registry } = fakeRegistry({ empty: () => ({ ok: true, result: "" }), nothing: () => ({ ok: true, result: undefined }) });
    const result = await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("empty"), serverTool("nothing")] }));
    const contents = toolMessages(result.messages).map((message) => message.content);
    expect(contents).toEqual(['""', "null"]);
    for (const content of contents) expect(content.length).toBeGreaterThan(0);
  });

  it("gives duplicated and missing call ids unique ids and pairs the tool messages with them", async () => {
    const history: ChatMessage[] = [
      { role: "user", content: "before" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_old", type: "function", function: { name: "echo", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "call_old", content: "x" },
      { role: "assistant", content: "ok" },
    ];
    const model = scriptedModel([
      callTools([{ id: "call_old", name: "echo" }, { id: "dup", name: "echo" }, { id: "dup", name: "echo" }, { name: "echo" }]),
      answer("done"),
    ]);
    const { registry, invocations } = fakeRegistry({ echo: () => ({ ok: true, result: "x" }) });
    const result = await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("echo")], history }));
    const ids = (result.messages[1] as AssistantMessage).tool_calls!.map((call) => call.id);
    expect(new Set([...ids, "call_old"]).size).toBe(5);
    expect(ids[1]).toBe("dup");
    expect(toolMessages(result.messages).map((message) => message.tool_call_id)).toEqual(ids);
    expect(invocations.map((entry) => entry.context.tool_call_id)).toEqual(ids);
  });

  it("keeps reasoning_content and thought signatures on the echoed assistant message", async () => {
    const model = scriptedModel([
      callTools([{ id: "c1", name: "echo", extra_content: { google: { thought_signature: "sig" } } }], { reasoning_content: "thinking", content: "" }),
      answer("done"),
    ]);
    const { registry } = fakeRegistry({ echo: () => ({ ok: true, result: "x" }) });
    await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("echo")] }));
    const echoed = model.requests[1]!.messages.find((message) => message.role === "assistant") as AssistantMessage;
    expect(echoed.reasoning_content).toBe("thinking");
    expect(echoed.content).toBeNull();
    expect(echoed.tool_calls![0]!.extra_content).toEqual({ google: { thought_signature: "sig" } });
  });

  it("reports every tool result through onToolResult", async () => {
    const events: ToolResultEvent[] = [];
    const model = scriptedModel([
      callTools([
        { id: "c1", name: "echo" },
        { id: "c2", name: "missing" },
      ]),
      answer("done"),
    ]);
    const { registry } = fakeRegistry({ echo: () => ({ ok: true, result: "x" }) });
    await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("echo")], hooks: { onToolResult: (event) => events.push(event) } }));
    // Reported as each call finishes, so in completion order.
    const reported = events.map((event) => [event.step, event.call.call.id, event.outcome.ok] as const);
    expect(reported.sort((left, right) => left[1].localeCompare(right[1]))).toEqual([
      [1, "c1", true],
      [1, "c2", false],
    ]);
  });

  it("announces each step's server calls, not the client's, through onToolCalls", async () => {
    const announced: Array<[number, string[]]> = [];
    const model = scriptedModel([
      callTools([{ id: "c1", name: "echo" }]),
      callTools([
        { id: "c2", name: "echo" },
        { id: "c3", name: "ask_user" },
      ]),
    ]);
    const { registry } = fakeRegistry({ echo: () => ({ ok: true, result: "x" }) });
    await runToolLoop(
      loopInput({
        ...model,
        registry,
        serverTools: [serverTool("echo")],
        clientTools: [clientTool("ask_user")],
        hooks: { onToolCalls: (step, calls) => announced.push([step, calls.map((call) => call.call.id)]) },
      }),
    );
    expect(announced).toEqual([
      [1, ["c1"]],
      [2, ["c2"]],
    ]);
  });

  it("commits each message of the turn through onTurnMessage, never a call without its answer", async () => {
    const committed: ChatMessage[] = [];
    const model = scriptedModel([callTools([{ id: "c1", name: "echo" }]), answer("done")]);
    const { registry } = fakeRegistry({ echo: () => ({ ok: true, result: "x" }) });
    const result = await runToolLoop(
      loopInput({ ...model, registry, serverTools: [serverTool("echo")], hooks: { onTurnMessage: (message) => committed.push(message) } }),
    );
    expect(committed).toEqual(result.messages);
    expect(committed.map((message) => message.role)).toEqual(["user", "assistant", "tool", "assistant"]);
  });

  it("has committed nothing unanswered when the model fails mid-turn", async () => {
    const committed: ChatMessage[] = [];
    let calls = 0;
    const failing: ModelPort = {
      defaultModel: "gpt-5-mini",
      async complete() {
        calls += 1;
        if (calls === 1) return callTools([{ id: "c1", name: "echo" }]);
        throw new Error("upstream died");
      },
      stream: () => Promise.reject(new Error("not streamed")),
    };
    const { registry } = fakeRegistry({ echo: () => ({ ok: true, result: "x" }) });
    await expect(
      runToolLoop(loopInput({ model: failing, registry, serverTools: [serverTool("echo")], hooks: { onTurnMessage: (message) => committed.push(message) } })),
    ).rejects.toThrow("upstream died");
    expect(committed.map((message) => message.role)).toEqual(["user", "assistant", "tool"]);
  });

  it("streams every step through the port when the door listens, telling it each step's opening and text", async () => {
    const model = scriptedModel([callTools([{ id: "c1", name: "echo" }]), answer("streamed answer")]);
    const { registry } = fakeRegistry({ echo: () => ({ ok: true, result: "x" }) });
    const heard: string[] = [];
    const result = await runToolLoop(
      loopInput({
        ...model,
        registry,
        serverTools: [serverTool("echo")],
        stream: { onOpen: (step) => heard.push(`open ${step}`), onDelta: (delta, step) => void heard.push(`${step}: ${delta.content}`) },
      }),
    );
    expect(heard).toEqual(["open 1", "open 2", "2: st", "2: reamed answer"]);
    expect(result.completion.choices[0]!.message.content).toBe("streamed answer");
  });

  it("goes on when a hook throws: watching a turn never fails it", async () => {
    const model = scriptedModel([callTools([{ id: "c1", name: "echo" }]), answer("done")]);
    const { registry } = fakeRegistry({ echo: () => ({ ok: true, result: "x" }) });
    const boom = () => {
      throw new Error("hook failed");
    };
    const result = await runToolLoop(
      loopInput({ ...model, registry, serverTools: [serverTool("echo")], hooks: { onTurnMessage: boom, onToolCalls: boom, onToolResult: boom } }),
    );
    expect(result.completion.choices[0]!.message.content).toBe("done");
  });

  it("passes the caller's signal to tool invocations", async () => {
    const controller = new AbortController();
    const model = scriptedModel([callTools([{ id: "c1", name: "echo" }]), answer("done")]);
    const { registry, invocations } = fakeRegistry({ echo: () => ({ ok: true, result: "x" }) });
    await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("echo")], signal: controller.signal }));
    expect(invocations[0]!.options.signal).toBe(controller.signal);
  });
});

describe("runToolLoop with approvals", () => {
  const needsSave = (tool: ServerTool, args: JsonObject) => tool.name === "notes" && args.action === "save";
  const step = () =>
    callTools([
      { id: "call_save", name: "notes", arguments: '{"action":"save","text":"milk"}' },
      { id: "call_weather", name: "weather", arguments: '{"location":"Paris"}' },
    ]);
  const tools = [serverTool("notes"), serverTool("weather")];

  it("parks before a call that needs approval: the other calls of the step run, the waiting one does not", async () => {
    const model = scriptedModel([step()]);
    const { registry, invocations } = fakeRegistry({ notes: () => ({ ok: true, result: "saved" }), weather: () => ({ ok: true, result: "sunny" }) });

    const result = await runToolLoop(loopInput({ ...model, registry, serverTools: tools, needsApproval: needsSave }));

    expect(invocations.map((invocation) => invocation.tool)).toEqual(["weather"]);
    expect(result.parked).toMatchObject({ step: 1, awaiting: [{ id: "call_save" }], results: [{ tool_call_id: "call_weather", content: "sunny" }] });
    // Only whole steps are the turn's: the parked step is not among its messages.
    expect(result.messages).toEqual(userInput);
  });

  it("continues a decided step: an approved call runs with its idempotency key from the parked turn, a denied one is answered with the denial", async () => {
    const parkedModel = scriptedModel([step()]);
    const first = fakeRegistry({ notes: () => ({ ok: true, result: "saved" }), weather: () => ({ ok: true, result: "sunny" }) });
    const parked = (await runToolLoop(loopInput({ ...parkedModel, registry: first.registry, serverTools: tools, needsApproval: needsSave }))).parked!;

    const run = async (decision: { approve: boolean; status: "approved" | "denied"; reason?: string; arguments?: string }) => {
      const model = scriptedModel([answer("done")]);
      const { registry, invocations } = fakeRegistry({ notes: () => ({ ok: true, result: "saved" }), weather: () => ({ ok: true, result: "sunny" }) });
      const result = await runToolLoop(
        loopInput({
          ...model,
          registry,
          serverTools: tools,
          needsApproval: needsSave,
          input: [],
          history: userInput,
          turnId: "turn_2",
          resume: {
            step: parked.step,
            messages: [],
            usage: null,
            keyTurnId: "turn_1",
            pending: {
              completion: parked.completion,
              assistant: parked.assistant,
              results: parked.results,
              decisions: { call_save: { arguments: '{"action":"save","text":"milk"}', ...decision } },
            },
          },
        }),
      );
      return { result, invocations };
    };

    const approved = await run({ approve: true, status: "approved" });
    expect(approved.invocations.map((invocation) => [invocation.tool, invocation.context.idempotency_key])).toEqual([
      ["notes", "default:conv_1:turn_1:1:0:notes"],
    ]);
    expect(toolMessages(approved.result.messages).map((message) => message.content)).toEqual(["saved", "sunny"]);

    const denied = await run({ approve: false, status: "denied", reason: "no" });
    expect(denied.invocations).toEqual([]);
    expect(errorOf(toolMessages(denied.result.messages)[0])).toMatchObject({ type: "approval_denied" });
    expect(errorOf(toolMessages(denied.result.messages)[0]).message).toContain("no");

    // Arguments that are not the approved ones never run.
    const changed = await run({ approve: true, status: "approved", arguments: '{"action":"save","text":"other"}' });
    expect(changed.invocations).toEqual([]);
    expect(errorOf(toolMessages(changed.result.messages)[0])).toMatchObject({ type: "approval_mismatch" });
  });

  it("asks nobody about a call that cannot run: its arguments fail the schema and it fails as it would anyway", async () => {
    const model = scriptedModel([callTools([{ id: "call_bad", name: "notes", arguments: "{not json" }]), answer("done")]);
    const { registry } = fakeRegistry({ notes: () => ({ ok: true, result: "saved" }) });
    const result = await runToolLoop(loopInput({ ...model, registry, serverTools: [serverTool("notes")], needsApproval: () => true }));
    expect(result.parked).toBeUndefined();
    expect(errorOf(toolMessages(result.messages)[0])).toMatchObject({ type: "invalid_arguments" });
  });
});
