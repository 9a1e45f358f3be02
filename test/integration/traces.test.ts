// Traces through the HTTP surface, with every Worker running: a turn's spans come back with the
// conversation, a client's traceparent is continued into the tool Workers (and their logs), nothing
// secret is kept; and GET /v1/conversations lists a tenant's conversations, a page at a time.

import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { KEYS, useSwitchboard } from "./support/harness.js";
import { type JsonObject, reply, toolCall } from "./support/mock-upstream.js";

const switchboard = useSwitchboard();

const CLIENT_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_TRACEPARENT = `00-${CLIENT_TRACE_ID}-00f067aa0ba902b7-01`;

interface Span {
  span_id: string;
  parent_span_id: string | null;
  name: string;
  duration_ms: number;
  status: { code: string; message?: string };
  attributes: JsonObject;
  events?: Array<{ name: string; attributes: JsonObject }>;
}
interface Trace {
  trace_id: string;
  parent_span_id: string | null;
  spans: Span[];
}

async function chat(body: JsonObject, headers: Record<string, string> = {}, key: string = KEYS.tenantA): Promise<Response> {
  return switchboard.request("/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify({ model: "gpt-5-mini", ...body }),
  });
}

async function traceOf(conversationId: string): Promise<Trace> {
  const stored = (await (await switchboard.request(`/v1/conversations/${conversationId}`)).json()) as { turns: Array<{ trace: Trace }> };
  return stored.turns.at(-1)!.trace;
}

const logged = () => switchboard.logs.flatMap((line) => line.split("\n")).flatMap((line) => (line.startsWith("{") ? [JSON.parse(line) as JsonObject] : []));

describe("a turn's trace", () => {
  it("comes back with the conversation: the turn, tool discovery, each model call and each tool call", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("calculate", { expression: "6*7" }, "call_calc")), reply.text("It is 42."));
    const response = await chat({ messages: [{ role: "user", content: "6*7?" }] }, { traceparent: CLIENT_TRACEPARENT });
    expect(response.status).toBe(200);
    const trace = await traceOf(((await response.json()) as { conversation_id: string }).conversation_id);

    expect(trace.trace_id).toBe(CLIENT_TRACE_ID);
    expect(trace.parent_span_id).toBe("00f067aa0ba902b7");
    expect(trace.spans.map((span) => span.name)).toEqual([
      "invoke_agent switchboard",
      "discover_tools",
      "chat gpt-5-mini",
      "execute_tool calculate",
      "chat gpt-5-mini",
    ]);
    const [root, ...children] = trace.spans;
    expect(children.every((span) => span.parent_span_id === root!.span_id)).toBe(true);
    expect(root!.attributes).toMatchObject({ "gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 20, "switchboard.turn.steps": 2 });
    const tool = trace.spans.find((span) => span.name === "execute_tool calculate")!;
    expect(tool.attributes).toMatchObject({
      "gen_ai.tool.name": "calculate",
      "gen_ai.tool.call.id": "call_calc",
      "gen_ai.tool.call.arguments": '{"expression":"6*7"}',
      "switchboard.tool.location": "worker",
      "switchboard.tool.binding": "TOOL_CALCULATOR",
      "switchboard.tool.outcome": "ok",
    });
    expect(tool.attributes["switchboard.tool.result_bytes"]).toBeGreaterThan(0);
    expect(trace.spans.filter((span) => span.name.startsWith("chat")).map((span) => span.attributes["gen_ai.response.finish_reasons"])).toEqual([
      ["tool_calls"],
      ["stop"],
    ]);
  });

  it("follows the client's trace id into the tool Worker, which logs it under the tool call's span", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_time", { timezone: "Asia/Tokyo" }, "call_clock")), reply.text("Late."));
    const response = await chat({ messages: [{ role: "user", content: "Time in Tokyo?" }] }, { traceparent: CLIENT_TRACEPARENT });
    const trace = await traceOf(((await response.json()) as { conversation_id: string }).conversation_id);
    const tool = trace.spans.find((span) => span.name === "execute_tool get_current_time")!;

    await expect
      .poll(() => logged().find((line) => line.event === "tool_invoke" && line.parent_span_id === tool.span_id))
      .toMatchObject({
        tool: "get_current_time",
        trace_id: CLIENT_TRACE_ID,
        outcome: "ok",
      });
    expect(logged().find((line) => line.event === "tool_call" && line.tool_call_id === "call_clock")).toMatchObject({ trace_id: CLIENT_TRACE_ID });
  });

  it("continues a client's traceparent through the Responses door too", async () => {
    switchboard.upstream.enqueue(reply.text("Hello."));
    const response = await switchboard.request("/v1/responses", {
      method: "POST",
      headers: { "Content-Type": "application/json", traceparent: CLIENT_TRACEPARENT },
      body: JSON.stringify({ model: "gpt-5-mini", input: "hello" }),
    });
    expect(response.status).toBe(200);
    const { conversation } = (await response.json()) as { conversation: { id: string } };
    expect((await traceOf(conversation.id)).trace_id).toBe(CLIENT_TRACE_ID);
  });

  it("starts a trace of its own without a traceparent, and each turn gets its own", async () => {
    switchboard.upstream.enqueue(reply.text("one"), reply.text("two"));
    const first = (await (await chat({ messages: [{ role: "user", content: "a" }] })).json()) as { conversation_id: string };
    await chat({ messages: [{ role: "user", content: "b" }], conversation_id: first.conversation_id });
    const stored = (await (await switchboard.request(`/v1/conversations/${first.conversation_id}`)).json()) as { turns: Array<{ trace: Trace }> };
    const [one, two] = stored.turns.map((turn) => turn.trace);
    expect(one!.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(one!.parent_span_id).toBeNull();
    expect(two!.trace_id).not.toBe(one!.trace_id);
    // A continued conversation is read before the model is called; the read is part of the trace.
    expect(two!.spans.map((span) => span.name)).toContain("load_conversation");
  });

  it("keeps each retry of a model call, and no secret an upstream echoed", async () => {
    switchboard.upstream.enqueue(reply.error(503, `overloaded, key ${KEYS.dmxapi} rejected`, {}, { "retry-after-ms": "1" }), reply.text("Recovered."));
    const response = await chat({ messages: [{ role: "user", content: "hello" }] });
    const body = (await response.json()) as { conversation_id: string };
    const stored = await (await switchboard.request(`/v1/conversations/${body.conversation_id}`)).text();
    expect(stored).not.toContain(KEYS.dmxapi);
    const chatSpan = (JSON.parse(stored) as { turns: Array<{ trace: Trace }> }).turns[0]!.trace.spans.find((span) => span.name === "chat gpt-5-mini")!;
    expect(chatSpan.attributes["switchboard.attempts"]).toBe(2);
    expect(chatSpan.events).toEqual([expect.objectContaining({ name: "retry", attributes: expect.objectContaining({ "http.response.status_code": 503 }) })]);
    expect(JSON.stringify(chatSpan.events)).toContain("[REDACTED]");
  });

  it("streams each tool result's text with its duration when tool events are asked for", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("calculate", { expression: "2^10" }, "call_pow")), reply.text("1024"));
    const stream = await switchboard.openai.chat.completions.create({
      model: "gpt-5-mini",
      messages: [{ role: "user", content: "2^10" }],
      stream: true,
      stream_options: { include_tool_events: true } as OpenAI.ChatCompletionStreamOptions,
    });
    const events: JsonObject[] = [];
    for await (const chunk of stream) {
      const event = (chunk as unknown as { switchboard?: JsonObject }).switchboard;
      if (event) events.push(event);
    }
    expect(events[1]).toMatchObject({ type: "tool_result", id: "call_pow", name: "calculate", ok: true, duration_ms: expect.any(Number) });
    expect(JSON.parse(events[1]!.content as string)).toMatchObject({ result: 1024 });
  });
});

describe("GET /v1/conversations", () => {
  it("lists the key's tenant's conversations only, with their titles", async () => {
    const ids: string[] = [];
    for (const question of ["first question", "second question"]) {
      switchboard.upstream.enqueue(reply.text("ok"));
      const response = await chat({ messages: [{ role: "user", content: question }] }, {}, KEYS.tenantB);
      ids.push(((await response.json()) as { conversation_id: string }).conversation_id);
    }
    const listed = await switchboard.request("/v1/conversations?limit=100", { headers: { Authorization: `Bearer ${KEYS.tenantB}` } });
    expect(listed.status).toBe(200);
    const page = (await listed.json()) as { object: string; data: JsonObject[]; has_more: boolean; next_cursor: string | null };
    expect(page).toMatchObject({ object: "list", has_more: false, next_cursor: null });
    expect(page.data.map((entry) => entry.id).sort()).toEqual([...ids].sort());
    expect(page.data.find((entry) => entry.id === ids[0])).toEqual({
      id: ids[0],
      object: "conversation",
      title: "first question",
      turn_count: 1,
      bytes: expect.any(Number),
      created_at: expect.any(Number),
      updated_at: expect.any(Number),
    });

    const tenantA = (await (await switchboard.request("/v1/conversations?limit=100")).json()) as { data: JsonObject[] };
    expect(tenantA.data.some((entry) => ids.includes(entry.id as string))).toBe(false);
  });

  it("pages with next_cursor", async () => {
    const headers = { Authorization: `Bearer ${KEYS.webhooks}` };
    for (const question of ["p1", "p2", "p3"]) {
      switchboard.upstream.enqueue(reply.text("ok"));
      await chat({ messages: [{ role: "user", content: question }] }, {}, KEYS.webhooks);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
      const page = (await (await switchboard.request(`/v1/conversations?limit=1${query}`, { headers })).json()) as {
        data: JsonObject[];
        has_more: boolean;
        next_cursor: string | null;
      };
      seen.push(...page.data.map((entry) => entry.id as string));
      expect(page.has_more).toBe(page.next_cursor !== null);
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < 50);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(new Set(seen).size).toBeGreaterThanOrEqual(3);
  });

  it.each([
    ["limit=0", "limit"],
    ["limit=101", "limit"],
    ["limit=ten", "limit"],
    ["cursor=", "cursor"],
  ])("refuses ?%s with a 400 naming the parameter", async (query, param) => {
    const response = await switchboard.request(`/v1/conversations?${query}`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: JsonObject }).error).toMatchObject({ type: "invalid_request_error", param });
  });

  it("needs an API key", async () => {
    const response = await fetch(new URL("/v1/conversations", switchboard.url));
    expect(response.status).toBe(401);
  });
});
