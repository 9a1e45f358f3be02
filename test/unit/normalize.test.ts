import { describe, expect, it } from "vitest";
import { addUsage, normalizeAssistantMessage, normalizeToolCall, parseArguments, ToolCallIds } from "../../src/protocol/normalize.js";
import type { Usage } from "../../src/protocol/types.js";
import { normalizeCompletion } from "../../src/upstream/stream-reader.js";
import { UpstreamError } from "../../src/upstream/upstream-error.js";

describe("parseArguments", () => {
  it("accepts an object given instead of a string", () => {
    expect(parseArguments({ location: "上海" })).toEqual({ ok: true, value: { location: "上海" } });
  });

  it("treats an empty string as a call without parameters", () => {
    expect(parseArguments("")).toEqual({ ok: true, value: {} });
  });

  it("treats missing or null arguments as no parameters", () => {
    expect(parseArguments(undefined)).toEqual({ ok: true, value: {} });
    expect(parseArguments(null)).toEqual({ ok: true, value: {} });
  });

  it("parses a JSON object string", () => {
    expect(parseArguments('{"location":"Paris","unit":"celsius"}')).toEqual({
      ok: true,
      value: { location: "Paris", unit: "celsius" },
    });
  });

  it("rejects an array, given directly or as JSON", () => {
    const direct = parseArguments([1, 2]);
    const encoded = parseArguments("[1,2]");
    expect(direct.ok).toBe(false);
    expect(encoded.ok).toBe(false);
    if (!direct.ok) expect(direct.error).toMatch(/an array/);
    if (!encoded.ok) expect(encoded.error).toMatch(/an array/);
  });

  it("rejects JSON cut short by finish_reason length", () => {
    const parsed = parseArguments('{"location":"上');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(/not valid JSON/);
  });

  it("rejects malformed JSON and truncates the echoed text", () => {
    const parsed = parseArguments(`{${"x".repeat(500)}`);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.length).toBeLessThan(300);
  });

  it("rejects a number, given directly or as JSON", () => {
    const direct = parseArguments(42);
    const encoded = parseArguments("42");
    expect(direct.ok).toBe(false);
    expect(encoded.ok).toBe(false);
    if (!direct.ok) expect(direct.error).toMatch(/number/);
    if (!encoded.ok) expect(encoded.error).toMatch(/42/);
  });
});

describe("normalizeToolCall", () => {
  it("keeps a fresh upstream id", () => {
    const ids = new ToolCallIds();
    const { call } = normalizeToolCall({ id: "call_a1", type: "function", function: { name: "f", arguments: "{}" } }, ids);
    expect(call.id).toBe("call_a1");
  });

  it("gives a call with a missing id a fresh id", () => {
    const { call } = normalizeToolCall({ type: "function", function: { name: "f", arguments: "{}" } }, new ToolCallIds());
    expect(call.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
  });

  it("gives a call with an empty id a fresh id", () => {
    const { call } = normalizeToolCall({ id: "", function: { name: "f", arguments: "{}" } }, new ToolCallIds());
    expect(call.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
  });

  it("turns an integer id into a string", () => {
    const { call } = normalizeToolCall({ id: 7, function: { name: "f", arguments: "{}" } }, new ToolCallIds());
    expect(call.id).toBe("7");
  });

  it("gives a duplicated tool call id a fresh unique id", () => {
    const ids = new ToolCallIds(["call_a1"]);
    const { call } = normalizeToolCall({ id: "call_a1", function: { name: "f", arguments: "{}" } }, ids);
    expect(call.id).not.toBe("call_a1");
    expect(call.id).toMatch(/^call_/);
  });

  it("always sets type function and a string name", () => {
    const { call } = normalizeToolCall({ id: "x", function: { arguments: "{}" } }, new ToolCallIds());
    expect(call.type).toBe("function");
    expect(call.function.name).toBe("");
  });

  it("echoes object arguments as JSON text", () => {
    const { call, arguments: parsed } = normalizeToolCall({ id: "x", function: { name: "f", arguments: { location: "Paris" } } }, new ToolCallIds());
    expect(call.function.arguments).toBe('{"location":"Paris"}');
    expect(parsed).toEqual({ ok: true, value: { location: "Paris" } });
  });

  it("echoes a valid argument string verbatim", () => {
    const raw = '{ "location" : "Paris" }';
    const { call } = normalizeToolCall({ id: "x", function: { name: "f", arguments: raw } }, new ToolCallIds());
    expect(call.function.arguments).toBe(raw);
  });

  it("echoes empty arguments as {}", () => {
    const { call } = normalizeToolCall({ id: "x", function: { name: "f", arguments: "" } }, new ToolCallIds());
    expect(call.function.arguments).toBe("{}");
  });

  it("echoes malformed or array arguments as {} and reports the problem", () => {
    const cut = normalizeToolCall({ id: "x", function: { name: "f", arguments: '{"a":' } }, new ToolCallIds());
    expect(cut.call.function.arguments).toBe("{}");
    expect(cut.arguments.ok).toBe(false);
    const array = normalizeToolCall({ id: "y", function: { name: "f", arguments: "[1]" } }, new ToolCallIds());
    expect(array.call.function.arguments).toBe("{}");
    expect(array.arguments.ok).toBe(false);
  });

  it("keeps unknown fields such as extra_content.google.thought_signature", () => {
    const raw = {
      id: "call_g",
      type: "function",
      function: { name: "f", arguments: "{}", extra: 1 },
      extra_content: { google: { thought_signature: "sig==" } },
    };
    const { call } = normalizeToolCall(raw, new ToolCallIds());
    expect(call.extra_content).toEqual({ google: { thought_signature: "sig==" } });
    expect(call.function.extra).toBe(1);
  });

  it("survives a call that is not an object", () => {
    const { call, arguments: parsed } = normalizeToolCall("garbage", new ToolCallIds());
    expect(call).toMatchObject({ type: "function", function: { name: "", arguments: "{}" } });
    expect(parsed.ok).toBe(true);
  });
});

describe("normalizeAssistantMessage", () => {
  it("keeps every id unique among calls that share, lack or repeat ids, in order", () => {
    const raw = {
      role: "assistant",
      content: null,
      tool_calls: [
        { id: "call_x", function: { name: "a", arguments: "{}" } },
        { id: "call_x", function: { name: "b", arguments: "{}" } },
        { function: { name: "c", arguments: "{}" } },
        { id: "", function: { name: "d", arguments: "{}" } },
        { id: 3, function: { name: "e", arguments: "{}" } },
      ],
    };
    const { message, toolCalls } = normalizeAssistantMessage(raw, new ToolCallIds());
    const ids = message.tool_calls!.map((call) => call.id);
    expect(new Set(ids).size).toBe(5);
    expect(ids[0]).toBe("call_x");
    expect(ids[4]).toBe("3");
    // The pairing: the message's calls and the returned calls are the same, in the same order.
    expect(toolCalls.map((entry) => entry.call.id)).toEqual(ids);
    expect(message.tool_calls!.map((call) => call.function.name)).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("keeps ids unique across steps of one conversation", () => {
    const ids = new ToolCallIds();
    const first = normalizeAssistantMessage({ tool_calls: [{ id: "call_1", function: { name: "a", arguments: "" } }] }, ids);
    const second = normalizeAssistantMessage({ tool_calls: [{ id: "call_1", function: { name: "a", arguments: "" } }] }, ids);
    expect(first.message.tool_calls![0]!.id).toBe("call_1");
    expect(second.message.tool_calls![0]!.id).not.toBe("call_1");
  });

  it("sends content null instead of an empty string with tool calls", () => {
    const { message } = normalizeAssistantMessage(
      { role: "assistant", content: "", tool_calls: [{ id: "c", function: { name: "a", arguments: "{}" } }] },
      new ToolCallIds(),
    );
    expect(message.content).toBeNull();
  });

  it("keeps an empty string content without tool calls", () => {
    const { message, toolCalls } = normalizeAssistantMessage({ role: "assistant", content: "" }, new ToolCallIds());
    expect(message.content).toBe("");
    expect(toolCalls).toEqual([]);
    expect(message).not.toHaveProperty("tool_calls");
  });

  it("turns missing content into null", () => {
    const { message } = normalizeAssistantMessage({ role: "assistant" }, new ToolCallIds());
    expect(message.content).toBeNull();
  });

  it("keeps reasoning_content and other unknown fields", () => {
    const { message } = normalizeAssistantMessage(
      {
        role: "assistant",
        content: null,
        reasoning_content: "thinking...",
        annotations: [],
        tool_calls: [{ id: "c", type: "function", function: { name: "a", arguments: "{}" }, extra_content: { google: { thought_signature: "abc" } } }],
      },
      new ToolCallIds(),
    );
    expect(message.reasoning_content).toBe("thinking...");
    expect(message.annotations).toEqual([]);
    expect(message.tool_calls![0]!.extra_content).toEqual({ google: { thought_signature: "abc" } });
  });

  it("echoes object arguments as object JSON", () => {
    const { message } = normalizeAssistantMessage({ tool_calls: [{ id: "c", function: { name: "a", arguments: { x: 1 } } }] }, new ToolCallIds());
    expect(typeof message.tool_calls![0]!.function.arguments).toBe("string");
    expect(JSON.parse(message.tool_calls![0]!.function.arguments)).toEqual({ x: 1 });
  });

  it("forces role assistant", () => {
    const { message } = normalizeAssistantMessage({ content: "hi" }, new ToolCallIds());
    expect(message.role).toBe("assistant");
  });
});

describe("normalizeCompletion", () => {
  it("throws a 502 UpstreamError when there are no choices", () => {
    for (const raw of [{}, { choices: [] }, null, "text", { choices: "x" }]) {
      let caught: unknown;
      try {
        normalizeCompletion(raw);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(UpstreamError);
      expect((caught as UpstreamError).status).toBe(502);
    }
  });

  it("throws a 502 when the first choice has no message", () => {
    expect(() => normalizeCompletion({ choices: [{ index: 0 }] })).toThrow(UpstreamError);
  });

  it("fills in missing id, object, created, model and usage", () => {
    const completion = normalizeCompletion({ choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }] });
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.object).toBe("chat.completion");
    expect(typeof completion.created).toBe("number");
    expect(completion.model).toBe("");
    expect(completion.usage).toBeNull();
  });

  it("keeps the upstream's fields", () => {
    const completion = normalizeCompletion({
      id: "chatcmpl-1",
      created: 5,
      model: "gpt-5-mini",
      system_fingerprint: "fp",
      choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    });
    expect(completion).toMatchObject({ id: "chatcmpl-1", created: 5, model: "gpt-5-mini", system_fingerprint: "fp" });
    expect(completion.usage).toEqual({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 });
  });
});

describe("addUsage", () => {
  const usage = (prompt: number, completion: number, extra: Record<string, unknown> = {}): Usage => ({
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    ...extra,
  });

  it("returns the total when there is nothing to add", () => {
    const total = usage(1, 2);
    expect(addUsage(total, null)).toBe(total);
    expect(addUsage(total, undefined)).toBe(total);
    expect(addUsage(null, null)).toBeNull();
  });

  it("copies the first usage rather than aliasing it", () => {
    const next = usage(1, 2, { prompt_tokens_details: { cached_tokens: 1 } });
    const total = addUsage(null, next)!;
    expect(total).toEqual(next);
    expect(total).not.toBe(next);
    (total.prompt_tokens_details as { cached_tokens: number }).cached_tokens = 99;
    expect((next.prompt_tokens_details as { cached_tokens: number }).cached_tokens).toBe(1);
  });

  it("sums top-level and nested detail counts", () => {
    const left = usage(10, 5, { prompt_tokens_details: { cached_tokens: 2 }, completion_tokens_details: { reasoning_tokens: 3 } });
    const right = usage(20, 7, { prompt_tokens_details: { cached_tokens: 4, audio_tokens: 1 }, completion_tokens_details: { reasoning_tokens: 1 } });
    expect(addUsage(left, right)).toEqual({
      prompt_tokens: 30,
      completion_tokens: 12,
      total_tokens: 42,
      prompt_tokens_details: { cached_tokens: 6, audio_tokens: 1 },
      completion_tokens_details: { reasoning_tokens: 4 },
    });
  });

  it("adds a nested object that the total lacks or holds as null", () => {
    const left = usage(1, 1, { completion_tokens_details: null });
    const right = usage(1, 1, { completion_tokens_details: { reasoning_tokens: 5 }, prompt_tokens_details: { cached_tokens: 2 } });
    expect(addUsage(left, right)).toMatchObject({
      completion_tokens_details: { reasoning_tokens: 5 },
      prompt_tokens_details: { cached_tokens: 2 },
    });
  });

  it("keeps the total's value when the next has null for a field", () => {
    const left = usage(1, 1, { prompt_tokens_details: { cached_tokens: 3 } });
    const right = usage(1, 1, { prompt_tokens_details: null });
    expect(addUsage(left, right)).toMatchObject({ prompt_tokens: 2, prompt_tokens_details: { cached_tokens: 3 } });
  });

  it("does not mutate its inputs", () => {
    const left = usage(1, 1, { prompt_tokens_details: { cached_tokens: 1 } });
    const right = usage(2, 2, { prompt_tokens_details: { cached_tokens: 1 } });
    addUsage(left, right);
    expect(left).toEqual(usage(1, 1, { prompt_tokens_details: { cached_tokens: 1 } }));
  });
});
