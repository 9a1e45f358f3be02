// Where the doors meet the engine: a Responses stream that failed, a client that left while tools
// ran, a response whose conversation was deleted, and one trace id on the Responses door's logs.

import { describe, expect, it } from "vitest";
import { eventually } from "./support/eventually.js";
import { useSwitchboard } from "./support/harness.js";
import { completion, type JsonObject, reply, toolCall } from "./support/mock-upstream.js";

const switchboard = useSwitchboard({ vars: { STREAM_KEEPALIVE_MS: "100", DMXAPI_MAX_RETRIES: "0", TOOL_TIMEOUT_MS: "20000" } });

const data = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;
const delta = (value: JsonObject) =>
  data({ id: "chatcmpl-q", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: value, finish_reason: null }] });

const post = (path: string, body: unknown, signal?: AbortSignal) =>
  switchboard.request(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), ...(signal ? { signal } : {}) });

describe("continuing a Responses conversation", () => {
  it("from the last complete response, after a streamed response that failed part-way", async () => {
    switchboard.upstream.enqueue(reply.text("First answer."));
    const first = (await (await post("/v1/responses", { model: "gpt-5-mini", input: "hello" })).json()) as { id: string };
    switchboard.upstream.enqueue(
      reply.sse([delta({ role: "assistant", content: "Partial" }), data({ error: { message: "upstream overloaded", type: "server_error" } })]),
    );
    const failed = await post("/v1/responses", { model: "gpt-5-mini", input: "tell me more", previous_response_id: first.id, stream: true });
    expect(await failed.text()).toContain("response.failed");

    switchboard.upstream.enqueue(reply.text("More."));
    const retry = await post("/v1/responses", { model: "gpt-5-mini", input: "tell me more", previous_response_id: first.id });
    expect(retry.status).toBe(200);
  });

  it("from one response by two requests at once: one goes on, the other is a 409 (a conversation does not fork)", async () => {
    switchboard.upstream.enqueue(reply.text("one"));
    const first = (await (await post("/v1/responses", { model: "gpt-5-mini", input: "hello" })).json()) as { id: string; conversation: { id: string } };
    const slowly = (content: string) => async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return Response.json(completion({ content }));
    };
    switchboard.upstream.enqueue(slowly("branch a"), slowly("branch b"));

    const [a, b] = await Promise.all([
      post("/v1/responses", { model: "gpt-5-mini", input: "A?", previous_response_id: first.id }),
      post("/v1/responses", { model: "gpt-5-mini", input: "B?", previous_response_id: first.id }),
    ]);

    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const stored = (await (await switchboard.request(`/v1/conversations/${first.conversation.id}`)).json()) as { messages: JsonObject[] };
    expect(stored.messages.filter((message) => message.role === "user")).toHaveLength(2);
  });

  it("again from the same response after a continuation failed", async () => {
    switchboard.upstream.enqueue(reply.text("one"));
    const first = (await (await post("/v1/responses", { model: "gpt-5-mini", input: "hello" })).json()) as { id: string };
    switchboard.upstream.enqueue(reply.error(400, "refused"));
    expect((await post("/v1/responses", { model: "gpt-5-mini", input: "next", previous_response_id: first.id })).status).toBe(400);
    switchboard.upstream.enqueue(reply.text("two"));
    expect((await post("/v1/responses", { model: "gpt-5-mini", input: "next", previous_response_id: first.id })).status).toBe(200);
  });

  it("from a response whose conversation was deleted is a 404, not 'not the latest'", async () => {
    switchboard.upstream.enqueue(reply.text("one"));
    const first = (await (await post("/v1/responses", { model: "gpt-5-mini", input: "hello" })).json()) as { id: string; conversation: { id: string } };
    expect((await switchboard.request(`/v1/conversations/${first.conversation.id}`, { method: "DELETE" })).status).toBe(200);

    const next = await post("/v1/responses", { model: "gpt-5-mini", input: "again", previous_response_id: first.id });
    expect(next.status).toBe(404);
    expect(((await next.json()) as { error: JsonObject }).error).toMatchObject({ code: "response_not_found", param: "previous_response_id" });
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
  });
});

describe("deleting a conversation", () => {
  it("deletes the stored Responses objects that answered its turns, and only those", async () => {
    switchboard.upstream.enqueue(reply.text("one"));
    const first = (await (await post("/v1/responses", { model: "gpt-5-mini", input: "hello" })).json()) as { id: string; conversation: { id: string } };
    switchboard.upstream.enqueue(reply.text("two"));
    const second = (await (await post("/v1/responses", { model: "gpt-5-mini", input: "again", previous_response_id: first.id })).json()) as { id: string };
    switchboard.upstream.enqueue(reply.text("elsewhere"));
    const other = (await (await post("/v1/responses", { model: "gpt-5-mini", input: "another conversation" })).json()) as { id: string };

    expect((await switchboard.request(`/v1/conversations/${first.conversation.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await switchboard.request(`/v1/responses/${first.id}`)).status).toBe(404);
    expect((await switchboard.request(`/v1/responses/${second.id}`)).status).toBe(404);
    expect((await switchboard.request(`/v1/responses/${other.id}`)).status).toBe(200);
  });
});

describe("item references", () => {
  it("refuses a reference shaped like an item id that names nothing, instead of dropping it", async () => {
    const response = await post("/v1/responses", {
      model: "gpt-5-mini",
      input: [
        { type: "item_reference", id: "msg_typo" },
        { role: "user", content: "hi" },
      ],
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: JsonObject }).error).toMatchObject({ code: "item_not_found", param: "input[0].id" });
    expect(switchboard.upstream.chatCalls).toHaveLength(0);
  });
});

describe("a client that leaves while a server tool runs", () => {
  it("does not stop the turn: the stored turn holds what the tool really answered, never the client's leaving", async () => {
    const release = switchboard.upstream.holdOpenMeteo();
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", { location: "Paris" }, "call_slow_weather")));
    const controller = new AbortController();
    const response = await post(
      "/v1/chat/completions",
      { model: "gpt-5-mini", messages: [{ role: "user", content: "weather in Paris?" }], stream: true, stream_options: { include_tool_events: true } },
      controller.signal,
    );
    const id = response.headers.get("x-conversation-id")!;
    const reader = response.body!.getReader();
    let seen = "";
    while (!seen.includes('"tool_calls"')) seen += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    release();

    const stored = await eventually(async () => {
      const found = await switchboard.request(`/v1/conversations/${id}`);
      return found.status === 200 ? ((await found.json()) as { messages: JsonObject[] }) : null;
    });
    expect(stored.messages.map((message) => message.role)).toEqual(["user", "assistant", "tool", "assistant"]);
    expect(String(stored.messages[2]?.content)).toContain("Paris");
    expect(String(stored.messages[2]?.content)).not.toContain('"error"');
    expect(JSON.stringify(stored.messages)).not.toContain("closed the stream");
  });
});

describe("the Responses door's logs", () => {
  it("carry the client's trace id on a turn's tool call lines", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_time", { timezone: "Asia/Tokyo" }, "call_resp_clock")), reply.text("Late."));
    const response = await switchboard.request("/v1/responses", {
      method: "POST",
      headers: { "Content-Type": "application/json", traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ model: "gpt-5-mini", input: "Time in Tokyo?" }),
    });
    expect(response.status).toBe(200);
    const lines = switchboard.logs.flatMap((line) => line.split("\n")).flatMap((line) => (line.startsWith("{") ? [JSON.parse(line) as JsonObject] : []));
    expect(lines.find((line) => line.event === "tool_call" && line.tool_call_id === "call_resp_clock")).toMatchObject({ trace_id: traceId });
  });
});
