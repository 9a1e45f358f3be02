import { describe, expect, it } from "vitest";
import type { ToolCallContext } from "../../kit/protocol.js";
import type { ModelCallOptions, ModelPort } from "../../src/loop/model-port.js";
import type { LoopHooks } from "../../src/loop/tool-loop.js";
import { combineHooks, runToolLoop } from "../../src/loop/tool-loop.js";
import type { AssistantMessage, ChatCompletion, JsonObject } from "../../src/protocol/types.js";
import { createRedactor } from "../../src/security/redact.js";
import type { ServerTool, ToolOutcome, ToolRegistry } from "../../src/tools/registry.js";
import { childOf, continueTrace, spanIdOf } from "../../src/trace/context.js";
import type { TraceSpan, TurnTrace } from "../../src/trace/turn-trace.js";
import { startTurnTrace } from "../../src/trace/turn-trace.js";
import { UpstreamError } from "../../src/upstream/upstream-error.js";

const CLIENT_TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

function completion(message: Partial<AssistantMessage>, finish = "stop"): ChatCompletion {
  return {
    id: `chatcmpl-${finish}`,
    object: "chat.completion",
    created: 1,
    model: "gpt-5-mini-2026",
    choices: [{ index: 0, message: { role: "assistant", content: null, ...message } as AssistantMessage, finish_reason: finish }],
    usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
  };
}

const clockCall = completion(
  { tool_calls: [{ id: "call_1", type: "function", function: { name: "get_current_time", arguments: '{"timezone":"Asia/Tokyo"}' } }] },
  "tool_calls",
);

/** A model port that answers from a script; a step may first report retries and a fallback, as the upstream client does. */
function scriptedModel(script: Array<(options: ModelCallOptions) => ChatCompletion>): ModelPort {
  const complete = async (_request: unknown, options: ModelCallOptions = {}) => {
    const next = script.shift();
    if (!next) throw new Error("model called more often than scripted");
    return next(options);
  };
  return { defaultModel: "gpt-5-mini", complete, stream: (request, _listener, options) => complete(request, options) };
}

function clockTool(overrides: Partial<ServerTool> = {}): ServerTool {
  return {
    name: "get_current_time",
    definition: { type: "function", function: { name: "get_current_time", description: "clock", parameters: { type: "object" } } },
    version: "1",
    sideEffects: false,
    binding: "TOOL_CLOCK",
    validate: () => [],
    ...overrides,
  };
}

function registry(outcome: ToolOutcome, contexts: ToolCallContext[] = []): ToolRegistry {
  return {
    list: async () => [clockTool()],
    invoke: async (_tool, _args: JsonObject, context) => {
      contexts.push(context);
      return outcome;
    },
  };
}

async function tracedTurn(options: { model: ModelPort; outcome: ToolOutcome; redact?: (text: string) => string; tools?: ServerTool[] }) {
  const tracer = startTurnTrace({
    context: continueTrace(CLIENT_TRACE),
    startedAt: Date.now(),
    conversationId: "conv_1",
    turnId: "turn_1",
    model: "gpt-5-mini",
    serverAddress: "www.dmxapi.cn",
  });
  const contexts: ToolCallContext[] = [];
  const result = await runToolLoop({
    model: options.model,
    registry: registry(options.outcome, contexts),
    serverTools: options.tools ?? [clockTool()],
    clientTools: [],
    history: [],
    input: [{ role: "user", content: "What time is it in Tokyo?" }],
    parameters: { model: "gpt-5-mini" },
    limits: { maxSteps: 4, toolTimeoutMs: 1000, maxToolCallsPerStep: 8, maxToolOutputChars: 10_000 },
    context: { conversation_id: "conv_1", request_id: "req_1", tenant: "default", traceparent: tracer.traceparent },
    turnId: "turn_1",
    hooks: tracer.hooks,
  });
  const trace = tracer.finish({ endMs: Date.now(), steps: result.steps, incomplete: false }, options.redact);
  return { trace, contexts, tracer };
}

const spanNamed = (trace: TurnTrace, name: string): TraceSpan[] => trace.spans.filter((span) => span.name === name);

describe("W3C trace context", () => {
  it("continues a client's traceparent", () => {
    expect(continueTrace(CLIENT_TRACE)).toEqual({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", parentSpanId: "00f067aa0ba902b7", flags: "01" });
  });

  it.each([
    ["no header", undefined],
    ["garbage", "hello"],
    ["an all-zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"],
    ["an all-zero parent id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"],
    ["the forbidden version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
    ["version 00 with extra fields", `${CLIENT_TRACE}-extra`],
  ])("starts a new trace for %s", (_label, header) => {
    const context = continueTrace(header);
    expect(context.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(context.traceId).not.toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(context.parentSpanId).toBeNull();
  });

  it("gives a child span the same trace and a new span id", () => {
    const child = childOf(CLIENT_TRACE)!;
    expect(child).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    expect(spanIdOf(child)).not.toBe("00f067aa0ba902b7");
  });
});

describe("a turn's trace", () => {
  it("records the turn, each model call and each tool call in OpenTelemetry GenAI terms", async () => {
    const model = scriptedModel([() => clockCall, () => completion({ content: "It is 9:00 in Tokyo." })]);
    const { trace, contexts, tracer } = await tracedTurn({ model, outcome: { ok: true, result: { time: "09:00" } } });

    expect(trace.trace_id).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(trace.parent_span_id).toBe("00f067aa0ba902b7");
    const [root] = trace.spans;
    expect(root).toMatchObject({ name: "invoke_agent switchboard", parent_span_id: "00f067aa0ba902b7", status: { code: "ok" } });
    expect(root!.attributes).toMatchObject({
      "gen_ai.operation.name": "invoke_agent",
      "gen_ai.conversation.id": "conv_1",
      "gen_ai.usage.input_tokens": 20,
      "gen_ai.usage.output_tokens": 10,
      "switchboard.turn.steps": 2,
    });
    expect(tracer.traceparent).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${root!.span_id}-01`);

    const chats = spanNamed(trace, "chat gpt-5-mini");
    expect(chats).toHaveLength(2);
    expect(chats[0]!.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.request.model": "gpt-5-mini",
      "gen_ai.response.model": "gpt-5-mini-2026",
      "gen_ai.response.finish_reasons": ["tool_calls"],
      "gen_ai.usage.input_tokens": 10,
      "gen_ai.usage.output_tokens": 5,
      "server.address": "www.dmxapi.cn",
      "switchboard.step": 1,
      "switchboard.attempts": 1,
    });
    expect(chats.every((span) => span.parent_span_id === root!.span_id)).toBe(true);

    const [tool] = spanNamed(trace, "execute_tool get_current_time");
    expect(tool!.attributes).toEqual({
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": "get_current_time",
      "gen_ai.tool.call.id": "call_1",
      "gen_ai.tool.type": "function",
      "gen_ai.tool.call.arguments": '{"timezone":"Asia/Tokyo"}',
      "switchboard.step": 1,
      "switchboard.tool.location": "worker",
      "switchboard.tool.binding": "TOOL_CLOCK",
      "switchboard.tool.outcome": "ok",
      "switchboard.tool.result_bytes": '{"time":"09:00"}'.length,
    });
    // The tool Worker was told its call's span, under the turn's trace.
    expect(contexts[0]!.traceparent).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${tool!.span_id}-01`);
  });

  it("keeps each retry and fallback of a model call as events of its span", async () => {
    const model = scriptedModel([
      (options) => {
        options.onRetry?.({ attempt: 1, delayMs: 500, status: 503, message: "overloaded" });
        options.onFallback?.({ from: "gpt-5-mini", to: "deepseek-v3", reason: "overloaded" });
        return completion({ content: "ok" });
      },
    ]);
    const { trace } = await tracedTurn({ model, outcome: { ok: true, result: null } });
    const [chat] = spanNamed(trace, "chat gpt-5-mini");
    expect(chat!.attributes).toMatchObject({ "switchboard.attempts": 3, "switchboard.fallback_models": ["deepseek-v3"] });
    expect(chat!.events!.map((event) => event.name)).toEqual(["retry", "fallback"]);
    expect(chat!.events![0]!.attributes).toMatchObject({ "switchboard.attempt": 1, "http.response.status_code": 503 });
  });

  it("records a model call that failed, with its error type", async () => {
    const model = scriptedModel([
      () => {
        throw new UpstreamError("DMXAPI did not answer within 100 ms.", { status: 504, code: "upstream_timeout" });
      },
    ]);
    const tracer = startTurnTrace({ context: continueTrace(null), startedAt: Date.now(), conversationId: "c", turnId: "t", model: "m", serverAddress: null });
    await expect(
      runToolLoop({
        model,
        registry: registry({ ok: true, result: null }),
        serverTools: [],
        clientTools: [],
        history: [],
        input: [{ role: "user", content: "hi" }],
        parameters: { model: "m" },
        limits: { maxSteps: 4, toolTimeoutMs: 1000, maxToolCallsPerStep: 8, maxToolOutputChars: 10_000 },
        context: { conversation_id: "c", request_id: "r", tenant: "default" },
        turnId: "t",
        hooks: tracer.hooks,
      }),
    ).rejects.toThrow(UpstreamError);
    const trace = tracer.finish({ endMs: Date.now(), steps: 1, incomplete: true });
    const [chat] = spanNamed(trace, "chat m");
    expect(chat).toMatchObject({
      status: { code: "error", message: "DMXAPI did not answer within 100 ms." },
      attributes: { "error.type": "upstream_timeout" },
    });
    expect(trace.spans[0]!.status.code).toBe("error");
  });

  it("says where an MCP server's tool lives, and what a failed call returned", async () => {
    const mcpTool = clockTool({ binding: "", mcp: { server: "remote", tool: "now", url: "https://mcp.example.com/mcp?token=x", annotations: null } });
    const model = scriptedModel([() => clockCall, () => completion({ content: "sorry" })]);
    const { trace } = await tracedTurn({ model, outcome: { ok: false, type: "tool_timeout", message: "no answer" }, tools: [mcpTool] });
    const [tool] = spanNamed(trace, "execute_tool get_current_time");
    expect(tool!.status).toEqual({ code: "error", message: "no answer" });
    expect(tool!.attributes).toMatchObject({
      "switchboard.tool.location": "mcp",
      "switchboard.tool.mcp_server": "remote",
      "server.address": "mcp.example.com",
      "switchboard.tool.outcome": "tool_timeout",
      "error.type": "tool_timeout",
    });
  });

  it("masks configured secrets anywhere in the trace, as logs do", async () => {
    const secret = "sk-operator-secret-123456";
    const model = scriptedModel([() => clockCall, () => completion({ content: "done" })]);
    const { trace } = await tracedTurn({
      model,
      outcome: { ok: false, type: "upstream_error", message: `upstream said: Bearer ${secret}` },
      redact: createRedactor([secret]),
    });
    expect(JSON.stringify(trace)).not.toContain(secret);
    expect(spanNamed(trace, "execute_tool get_current_time")[0]!.status.message).toContain("[REDACTED]");
  });

  it("cuts long tool arguments", async () => {
    const long = JSON.stringify({ text: "x".repeat(5000) });
    const model = scriptedModel([
      () => completion({ tool_calls: [{ id: "call_1", type: "function", function: { name: "get_current_time", arguments: long } }] }, "tool_calls"),
      () => completion({ content: "done" }),
    ]);
    const { trace } = await tracedTurn({ model, outcome: { ok: true, result: 1 } });
    const argumentsText = spanNamed(trace, "execute_tool get_current_time")[0]!.attributes["gen_ai.tool.call.arguments"] as string;
    expect(argumentsText.length).toBeLessThan(2100);
  });
});

describe("combineHooks", () => {
  it("tells every watcher even when one throws", () => {
    const heard: string[] = [];
    const hooks: LoopHooks = combineHooks(
      {
        onTurnMessage: () => {
          throw new Error("broken watcher");
        },
      },
      undefined,
      { onTurnMessage: (message) => heard.push(String(message.content)) },
    );
    hooks.onTurnMessage?.({ role: "user", content: "hello" });
    expect(heard).toEqual(["hello"]);
  });
});
