// The Responses door's translation, both ways, as pure functions: input items to chat messages, a
// turn's messages to output items and stream events, the request to chat parameters, references.

import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/errors.js";
import { inputToMessages } from "../../src/protocol/responses/input.js";
import { OutputBuilder, replayTurn, serverResult } from "../../src/protocol/responses/output.js";
import { itemIds, resolveReferences } from "../../src/protocol/responses/references.js";
import { chatParameters, parseResponsesRequest, requestTools } from "../../src/protocol/responses/request.js";
import type { ResponseEvent, ResponseObject } from "../../src/protocol/responses/types.js";
import type { AssistantMessage, ChatMessage } from "../../src/protocol/types.js";

const policy = { allowed: new Set<string>(), maxOutputTokens: 1000 };
const call = (id: string, name: string, args = "{}") => ({ id, type: "function" as const, function: { name, arguments: args } });

function refused(run: () => unknown): { status: number; param: string | null; code: unknown } {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return { status: error.status, param: error.body.error.param, code: error.body.error.code };
  }
  throw new Error("not refused");
}

describe("input items to chat messages", () => {
  it("folds one step's reasoning, text, server call with its output and client call with its output into one assistant message", () => {
    const messages = inputToMessages([
      { role: "user", content: "Weather and order?" },
      { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "Two lookups." }] },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "Checking. ", annotations: [] }] },
      { type: "mcp_call", id: "call_srv", server_label: "switchboard", name: "get_current_weather", arguments: "{}", output: '{"t":1}', error: null },
      { type: "function_call", id: "fc_1", call_id: "call_cli", name: "lookup", arguments: '{"id":"A"}' },
      { type: "function_call_output", call_id: "call_cli", output: [{ type: "input_text", text: "shipped" }] },
      { role: "user", content: [{ type: "input_text", text: "Thanks" }] },
    ]);
    expect(messages).toEqual([
      { role: "user", content: "Weather and order?" },
      {
        role: "assistant",
        content: "Checking. ",
        reasoning_content: "Two lookups.",
        tool_calls: [call("call_srv", "get_current_weather"), call("call_cli", "lookup", '{"id":"A"}')],
      },
      { role: "tool", tool_call_id: "call_srv", content: '{"t":1}' },
      { role: "tool", tool_call_id: "call_cli", content: "shipped" },
      { role: "user", content: "Thanks" },
    ]);
  });

  it("starts a new step for calls after the client's outputs, and leaves out a server call kept without its result", () => {
    const messages = inputToMessages([
      { role: "user", content: "go" },
      { type: "function_call", call_id: "a", name: "f", arguments: "{}" },
      { type: "function_call_output", call_id: "a", output: "1" },
      { type: "mcp_call", id: "s", server_label: "switchboard", name: "calculate", arguments: "{}" },
      { type: "function_call", call_id: "b", name: "f", arguments: "{}" },
      { type: "function_call_output", call_id: "b", output: "2" },
    ]);
    expect(messages.map((message) => [message.role, (message as AssistantMessage).tool_calls?.map((entry) => entry.id)])).toEqual([
      ["user", undefined],
      ["assistant", ["a"]],
      ["tool", undefined],
      ["assistant", ["b"]],
      ["tool", undefined],
    ]);
  });

  it("keeps a lone function_call_output as a tool message (its call is in the stored conversation) and images as image parts", () => {
    expect(inputToMessages([{ type: "function_call_output", call_id: "c1", output: "ok" }])).toEqual([{ role: "tool", tool_call_id: "c1", content: "ok" }]);
    expect(
      inputToMessages([
        {
          role: "user",
          content: [
            { type: "input_text", text: "What is this?" },
            { type: "input_image", image_url: "https://example.com/a.png", detail: "low" },
          ],
        },
      ]),
    ).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "What is this?" },
          { type: "image_url", image_url: { url: "https://example.com/a.png", detail: "low" } },
        ],
      },
    ]);
  });

  it("refuses item types and content parts it cannot translate, naming where", () => {
    expect(refused(() => inputToMessages([{ type: "web_search_call", id: "ws" }]))).toMatchObject({ status: 400, param: "input[0].type" });
    expect(refused(() => inputToMessages(["text"]))).toMatchObject({ status: 400, param: "input[0]" });
    expect(refused(() => inputToMessages([{ role: "user", content: [{ type: "input_audio" }] }]))).toMatchObject({ param: "input[0].content[0].type" });
    expect(refused(() => inputToMessages([{ type: "function_call", call_id: "", name: "f", arguments: "{}" }]))).toMatchObject({ param: "input[0].call_id" });
  });
});

describe("output items from a turn", () => {
  const produced: ChatMessage[] = [
    { role: "assistant", content: "Let me look. ", reasoning_content: "Think.", tool_calls: [call("call_s", "calculate"), call("call_bad", "nope")] },
    { role: "tool", tool_call_id: "call_s", content: '{"result":42}' },
    { role: "tool", tool_call_id: "call_bad", content: '{"error":{"type":"unknown_tool","message":"There is no tool named \\"nope\\"."}}' },
    { role: "assistant", content: null, tool_calls: [call("call_c", "lookup", '{"id":"A"}')] },
  ];

  it("replays server calls as mcp_call items with their output or error, and unanswered calls as function_call items", () => {
    const builder = new OutputBuilder(undefined, itemIds("T".repeat(32)));
    replayTurn(builder, produced, new Set(["call_bad"]));
    expect(builder.items).toEqual([
      { type: "reasoning", id: `rs_${"T".repeat(32)}_0`, summary: [{ type: "summary_text", text: "Think." }] },
      expect.objectContaining({ type: "message", status: "completed", content: [expect.objectContaining({ type: "output_text", text: "Let me look. " })] }),
      expect.objectContaining({ type: "mcp_call", id: "call_s", server_label: "switchboard", output: '{"result":42}', error: null, status: "completed" }),
      expect.objectContaining({ type: "mcp_call", id: "call_bad", output: null, error: 'There is no tool named "nope".', status: "failed" }),
      expect.objectContaining({ type: "function_call", call_id: "call_c", name: "lookup", arguments: '{"id":"A"}', status: "completed" }),
    ]);
  });

  it("emits each item's events in order: added, its parts and deltas, done", () => {
    const events: ResponseEvent[] = [];
    const builder = new OutputBuilder((event) => events.push(event));
    builder.text("Hel");
    builder.text("lo");
    builder.serverCalls([call("call_s", "calculate")]);
    builder.serverResult("call_s", serverResult("42", false));
    builder.clientCalls([call("call_c", "lookup", "{}")]);
    expect(events.map((event) => [event.type, event.output_index])).toEqual([
      ["response.output_item.added", 0],
      ["response.content_part.added", 0],
      ["response.output_text.delta", 0],
      ["response.output_text.delta", 0],
      ["response.output_text.done", 0],
      ["response.content_part.done", 0],
      ["response.output_item.done", 0],
      ["response.output_item.added", 1],
      ["response.mcp_call.in_progress", 1],
      ["response.mcp_call.completed", 1],
      ["response.output_item.done", 1],
      ["response.output_item.added", 2],
      ["response.function_call_arguments.delta", 2],
      ["response.function_call_arguments.done", 2],
      ["response.output_item.done", 2],
    ]);
    expect(events[4]).toMatchObject({ text: "Hello" });
  });
});

describe("the request", () => {
  it("translates Responses parameters to Chat Completions ones, capping the token limit", () => {
    const body = {
      model: "gpt-5-mini",
      input: "hi",
      max_output_tokens: 5000,
      temperature: 0.3,
      tool_choice: { type: "function", name: "lookup" },
      reasoning: { effort: "low", summary: "auto" },
      text: { format: { type: "json_schema", name: "answer", schema: { type: "object" }, strict: true }, verbosity: "low" },
      metadata: { a: "b" },
      store: true,
    };
    const request = parseResponsesRequest(body, policy);
    expect(chatParameters(request, body, "default-model", policy)).toEqual({
      model: "gpt-5-mini",
      max_completion_tokens: 1000,
      temperature: 0.3,
      tool_choice: { type: "function", function: { name: "lookup" } },
      reasoning_effort: "low",
      verbosity: "low",
      response_format: { type: "json_schema", json_schema: { name: "answer", schema: { type: "object" }, strict: true } },
    });
  });

  it("refuses unknown fields unless the operator allowed them, and then forwards them", () => {
    expect(refused(() => parseResponsesRequest({ input: "hi", top_k: 3 }, policy))).toMatchObject({ param: "top_k", code: "unknown_parameter" });
    const allowing = { allowed: new Set(["top_k"]), maxOutputTokens: 1000 };
    const body = { input: "hi", top_k: 3 };
    expect(chatParameters(parseResponsesRequest(body, allowing), body, "m", allowing)).toEqual({ model: "m", top_k: 3 });
  });

  it("accepts nulls for unset fields, as clients in other languages send them", () => {
    const body = { input: "hi", instructions: null, temperature: null, prompt: null, tools: null, previous_response_id: null };
    expect(chatParameters(parseResponsesRequest(body, policy), body, "m", policy)).toEqual({ model: "m" });
  });

  it("turns function tools into chat tools and refuses other tool types", () => {
    const request = parseResponsesRequest({ input: "hi", tools: [{ type: "function", name: "f", parameters: { type: "object" }, strict: true }] }, policy);
    expect(requestTools(request, []).clientTools).toEqual([{ type: "function", function: { name: "f", parameters: { type: "object" }, strict: true } }]);
    const hosted = parseResponsesRequest({ input: "hi", tools: [{ type: "function", name: "f" }, { type: "code_interpreter" }] }, policy);
    expect(refused(() => requestTools(hosted, []))).toMatchObject({ param: "tools[1].type" });
    expect(refused(() => parseResponsesRequest({ input: "hi", conversation: "c", previous_response_id: "resp_1" }, policy))).toMatchObject({
      param: "conversation",
    });
  });
});

describe("hosted mcp tools", () => {
  const servers = [{ name: "docs", url: "https://docs.example/mcp" }];
  const tools = (entries: unknown[]) => requestTools(parseResponsesRequest({ input: "hi", tools: entries }, policy), servers);

  it("selects Switchboard's own tools and asks for approval when the client requires it", () => {
    expect(tools([{ type: "mcp", server_label: "switchboard", require_approval: "always" }])).toEqual({
      clientTools: [],
      sources: [{ server_label: "switchboard", tools: "*" }],
      approval: [{ server_label: "switchboard", tools: "*" }],
    });
    expect(tools([{ type: "mcp", server_label: "switchboard", allowed_tools: ["notes"], require_approval: { always: { tool_names: ["notes"] } } }])).toEqual({
      clientTools: [],
      sources: [{ server_label: "switchboard", tools: ["notes"] }],
      approval: [{ server_label: "switchboard", tools: ["notes"] }],
    });
  });

  it("never lowers approval: require_approval never asks for nothing more", () => {
    expect(tools([{ type: "mcp", server_label: "switchboard", require_approval: "never" }]).approval).toBeUndefined();
  });

  it("names a configured MCP server by its label or its URL, and refuses any other server", () => {
    expect(tools([{ type: "mcp", server_label: "docs" }]).sources).toEqual([{ server_label: "docs", tools: "*" }]);
    expect(tools([{ type: "mcp", server_label: "x", server_url: "https://docs.example/mcp" }]).sources).toEqual([{ server_label: "docs", tools: "*" }]);
    expect(refused(() => tools([{ type: "mcp", server_label: "evil", server_url: "https://evil.example/mcp" }]))).toMatchObject({
      param: "tools[0].server_url",
      code: "server_not_allowed",
    });
    expect(refused(() => tools([{ type: "mcp", server_label: "nope" }]))).toMatchObject({ param: "tools[0].server_label", code: "unknown_server" });
    expect(refused(() => tools([{ type: "mcp", server_label: "docs", headers: { Authorization: "Bearer x" } }]))).toMatchObject({
      param: "tools[0].headers",
    });
  });
});

describe("item references", () => {
  const token = "A".repeat(32);
  const stored = {
    id: `resp_${token}`,
    output: [{ type: "message", id: `msg_${token}_0`, status: "completed", role: "assistant", content: [] }],
  } as unknown as ResponseObject;

  it("resolves a reference from the response its id names, and leaves out references to server calls", async () => {
    const loaded: string[] = [];
    const load = async (id: string) => {
      loaded.push(id);
      return id === stored.id ? stored : null;
    };
    const input = await resolveReferences(
      [
        { role: "user", content: "hi" },
        { type: "item_reference", id: `msg_${token}_0` },
        { type: "item_reference", id: "call_server_1" },
      ],
      load,
    );
    expect(input).toEqual([{ role: "user", content: "hi" }, stored.output[0]]);
    expect(loaded).toEqual([stored.id]);
    await expect(resolveReferences([{ type: "item_reference", id: `msg_${token}_9` }], load)).rejects.toMatchObject({ status: 400 });
  });
});
