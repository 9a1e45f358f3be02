// Regression suite for the orchestrator's boundaries, against a hostile upstream (one that echoes
// every configured secret in every field and form, redirects tools elsewhere, answers without end)
// and hostile clients (parameters that spend the operator's money, bodies built to crash the
// parser, oversized ids, hand-written stream loops, uploads cut off half-way).

import http from "node:http";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { eventually as poll } from "./support/eventually.js";
import { HOOK_SECRETS, KEYS, useSwitchboard } from "./support/harness.js";
import { completion, type JsonObject, reply, sseResponse, toChunks, toolCall } from "./support/mock-upstream.js";
import { sendStandardWebhook } from "./support/webhook-senders.js";

/** The dead-letter paths here take the queue's retries: a longer budget than the default. */
const eventually = <T>(probe: () => Promise<T | null>) => poll(probe, 15_000);

const switchboard = useSwitchboard({ vars: { MAX_OUTPUT_TOKENS: "4096", MAX_UPSTREAM_RESPONSE_BYTES: "65536", MAX_STRING_CHARS: "8192" } });

const hello = { model: "gpt-5-mini", messages: [{ role: "user", content: "hello" }] };
const once = { "x-should-retry": "false" };

function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return switchboard.request("/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Every configured secret: the DMXAPI key, the client keys, the hooks' signing and callback secrets. */
const SECRETS = [KEYS.dmxapi, KEYS.tenantA, KEYS.tenantB, KEYS.webhooks, HOOK_SECRETS.github, HOOK_SECRETS.orders, HOOK_SECRETS.ordersCallback];

/** What a hostile upstream writes wherever it can: each secret as is, URL-encoded and base64-encoded. */
const ECHO = SECRETS.flatMap((secret) => [secret, encodeURIComponent(secret), btoa(secret), btoa(`user:${secret}`)]).join(" ");

/** The forms of a secret that must never appear in what leaves the orchestrator. */
function leaks(text: string): string[] {
  return SECRETS.flatMap((secret) => [secret, encodeURIComponent(secret), btoa(secret).slice(0, -4), btoa(`user:${secret}`).slice(8, -4)]).filter((form) =>
    text.includes(form),
  );
}

const hostileError = (extra: JsonObject = {}) => ({
  error: { message: `failed for ${ECHO}`, type: KEYS.dmxapi, param: KEYS.dmxapi, code: KEYS.dmxapi, ...extra },
});

function sendOrder(body: string, id?: string): Promise<Response> {
  return sendStandardWebhook(switchboard.url, body, id === undefined ? {} : { id });
}

const asWebhooksTenant = { Authorization: `Bearer ${KEYS.webhooks}` };

/** Raw SSE `data:` payloads (without [DONE]). */
async function sseEvents(response: Response): Promise<JsonObject[]> {
  const text = await response.text();
  return text
    .split("\n")
    .filter((line) => line.startsWith("data: ") && line !== "data: [DONE]")
    .map((line) => JSON.parse(line.slice(6)) as JsonObject);
}

describe("a hostile upstream that echoes every secret", () => {
  for (const [name, status, expected] of [
    ["a 400", 400, 400],
    ["a 401", 401, 502],
    ["a 500", 500, 502],
    ["a 429", 429, 429],
  ] as const) {
    it(`gets none of them to the client through ${name} (fields mapped, message redacted)`, async () => {
      switchboard.upstream.enqueue(reply.json(hostileError(), status, once));
      const response = await post(hello);
      expect(response.status).toBe(expected);
      const text = await response.text();
      expect(leaks(text)).toEqual([]);
      const { error } = JSON.parse(text) as { error: JsonObject };
      expect(error.param).toBeNull();
      expect([null, "upstream_authentication_failed", "rate_limit_exceeded"]).toContain(error.code);
      expect(["invalid_request_error", "upstream_error", "rate_limit_error"]).toContain(error.type);
    });
  }

  it("gets none of them through a 200 that carries an error object", async () => {
    switchboard.upstream.enqueue(...[1, 2, 3].map(() => reply.json(hostileError())));
    const response = await post(hello);
    expect(response.status).toBe(502);
    expect(leaks(await response.text())).toEqual([]);
  });

  it("keeps known codes and parameter names, so clients still learn what was wrong", async () => {
    switchboard.upstream.enqueue(reply.json({ error: { message: "bad", type: "invalid_request_error", param: "temperature", code: "invalid_value" } }, 400));
    const { error } = (await (await post(hello)).json()) as { error: JsonObject };
    expect(error).toMatchObject({ param: "temperature", code: "invalid_value" });
  });

  it("gets none of them to a streaming client, before or after the stream started", async () => {
    switchboard.upstream.enqueue(reply.json(hostileError(), 400));
    const refused = await post({ ...hello, stream: true });
    expect(refused.status).toBe(400);
    expect(leaks(await refused.text())).toEqual([]);

    const chunk = (delta: JsonObject) =>
      `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta }] })}\n\n`;
    switchboard.upstream.enqueue(reply.sse([chunk({ role: "assistant", content: "Partial" }), `data: ${JSON.stringify(hostileError())}\n\n`]));
    const response = await post({ ...hello, stream: true });
    const events = await sseEvents(response);
    expect(leaks(JSON.stringify(events))).toEqual([]);
    expect(events.at(-1)).toMatchObject({ error: { type: "upstream_error", param: null, code: null } });
  });

  it("gets none of them into a webhook's dead letter or delivery record", async () => {
    switchboard.upstream.enqueue(...Array.from({ length: 10 }, () => reply.json(hostileError(), 400)));
    const ack = (await (await sendOrder(JSON.stringify({ type: "order.created", data: { id: "ord_hostile", city: "Paris" } }))).json()) as JsonObject;

    const list = await eventually(async () => {
      const body = await (await switchboard.request("/v1/webhooks/dead-letters", { headers: asWebhooksTenant })).text();
      return body.includes(String(ack.id)) ? body : null;
    });
    expect(leaks(list)).toEqual([]);
    expect(list).toContain("[REDACTED]");
    const delivery = await (await switchboard.request(`/v1/webhooks/orders/deliveries/${String(ack.id)}`, { headers: asWebhooksTenant })).text();
    expect(leaks(delivery)).toEqual([]);
  });

  it("gets none of them into a webhook callback", async () => {
    switchboard.upstream.enqueue(reply.text(`Answer: ${ECHO}`));
    await sendOrder(JSON.stringify({ type: "order.created", data: { id: "ord_echo", city: "Paris" } }));

    const callback = await eventually(async () => switchboard.upstream.callbacks[0] ?? null);
    expect(leaks(callback.body)).toEqual([]);
    expect(callback.body).toContain("Answer: [REDACTED]");
    // Still signed as Standard Webhooks libraries verify it.
    expect(() => new Webhook(HOOK_SECRETS.ordersCallback).verify(callback.body, Object.fromEntries(callback.headers))).not.toThrow();
  });

  it("gets none of them into the logs", async () => {
    switchboard.upstream.enqueue(reply.json(hostileError(), 500, once));
    await post(hello);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(leaks(switchboard.logs.join("\n"))).toEqual([]);
  });

  it("answers an endless response body with a clear 502, without reading it all", async () => {
    switchboard.upstream.enqueue(() => Response.json(completion({ content: "x".repeat(200_000) })));
    const response = await post(hello);
    expect(response.status).toBe(502);
    const { error } = (await response.json()) as { error: JsonObject };
    expect(error).toMatchObject({ code: "upstream_response_too_large" });
    expect(String(error.message)).toContain("MAX_UPSTREAM_RESPONSE_BYTES");
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
  });

  it("ends an endless stream with an error event", async () => {
    const answer = completion({ content: "y".repeat(100_000) });
    switchboard.upstream.enqueue(() => sseResponse(toChunks(answer)));
    const events = await sseEvents(await post({ ...hello, stream: true }));
    expect(events.at(-1)).toMatchObject({ error: { code: "upstream_response_too_large" } });
  });

  it("cannot steer the weather tool to another host with a redirect", async () => {
    switchboard.upstream.geocodingOverride = () => new Response(null, { status: 302, headers: { Location: "https://internal.example/internal-probe" } });
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", { location: "Paris" })));
    await post(hello);

    const result = (switchboard.upstream.chatCalls[1]!.body.messages as JsonObject[]).find((message) => message.role === "tool")!;
    expect(JSON.parse(String(result.content))).toMatchObject({ error: { type: "upstream_error", message: expect.stringContaining("not one of") } });
    expect(switchboard.upstream.strayCalls).toEqual([]);
  });
});

describe("clients setting what the operator pays for", () => {
  for (const [name, value] of [
    ["service_tier", "priority"],
    ["store", true],
    ["metadata", { customer: "x" }],
    ["web_search_options", {}],
    ["prediction", { type: "content", content: "x" }],
    ["audio", { voice: "alloy", format: "wav" }],
  ] as const) {
    it(`refuses ${name} with a 400 naming it, before the model is called`, async () => {
      const response = await post({ ...hello, [name]: value });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: JsonObject }).error).toMatchObject({ param: name, code: "parameter_not_allowed" });
      expect(switchboard.upstream.chatCalls).toHaveLength(0);
    });
  }

  it("refuses an unknown parameter with a 400 naming it", async () => {
    const response = await post({ ...hello, frobnicate: true });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: JsonObject }).error).toMatchObject({ param: "frobnicate", code: "unknown_parameter" });
    expect(switchboard.upstream.chatCalls).toHaveLength(0);
  });

  it("caps token limits at MAX_OUTPUT_TOKENS and forwards DMXAPI's reasoning switches", async () => {
    await post({ ...hello, max_completion_tokens: 1_000_000, max_tokens: 100, reasoning_effort: "high", thinking: { type: "enabled" }, enable_thinking: true });
    expect(switchboard.upstream.chatCalls[0]!.body).toMatchObject({
      max_completion_tokens: 4096,
      max_tokens: 100,
      reasoning_effort: "high",
      thinking: { type: "enabled" },
      enable_thinking: true,
    });
  });

  it("keeps working for what LangChain's and the Agents SDK's ChatOpenAI models send", async () => {
    const langchain = { ...hello, temperature: 1, top_p: 1, frequency_penalty: 0, presence_penalty: 0, n: 1, stream: false };
    const agents = {
      ...hello,
      tools: [{ type: "function", function: { name: "lookup", description: "Look up", parameters: { type: "object", properties: {} }, strict: false } }],
      tool_choice: "auto",
      parallel_tool_calls: true,
      stream: true,
      stream_options: { include_usage: true },
      store: false,
    };
    expect((await post(langchain)).status).toBe(200);
    const streamed = await post(agents);
    expect(streamed.status).toBe(200);
    await streamed.text();
  });
});

describe("bodies and ids built to hurt", () => {
  it("refuses 10,000 levels of nesting with a 400 naming the limit, before the model is called", async () => {
    const deep = `${"[".repeat(10_000)}${"]".repeat(10_000)}`;
    const response = await post(`{"model":"gpt-5-mini","messages":[{"role":"user","content":[{"type":"text","text":"x","extra":${deep}}]}]}`);
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: JsonObject };
    expect(error).toMatchObject({ code: "json_too_deep" });
    expect(String(error.message)).toContain("MAX_JSON_DEPTH");
    expect(switchboard.upstream.chatCalls).toHaveLength(0);
  });

  it("refuses a string over MAX_STRING_CHARS with a 400 naming the limit", async () => {
    const response = await post({ ...hello, messages: [{ role: "user", content: "z".repeat(9000) }] });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: JsonObject }).error).toMatchObject({ code: "string_too_long" });
    expect(switchboard.upstream.chatCalls).toHaveLength(0);
  });

  it("refuses a signed webhook delivery whose id is 2 KiB long", async () => {
    const response = await sendOrder(JSON.stringify({ type: "order.created", data: { id: "ord_long" } }), `msg_${"x".repeat(2048)}`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: JsonObject }).error).toMatchObject({ code: "invalid_delivery_id" });
  });

  it("refuses a tool call id over 256 characters", async () => {
    const response = await post({
      ...hello,
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: null, tool_calls: [{ id: "c".repeat(300), type: "function", function: { name: "f", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "c".repeat(300), content: "ok" },
      ],
    });
    expect(response.status).toBe(400);
  });

  it("hints at the key to send without the redactor eating the placeholder", async () => {
    const response = await fetch(new URL("/v1/models", switchboard.url));
    expect(((await response.json()) as { error: JsonObject }).error.message).toBe("Missing API key: send Authorization: Bearer <key>.");
  });

  it("logs a client that goes away mid-upload as a disconnect, not an error-level 500", async () => {
    const before = switchboard.logs.length;
    await new Promise<void>((resolve) => {
      const request = http.request(new URL("/v1/chat/completions", switchboard.url), {
        method: "POST",
        headers: { Authorization: `Bearer ${KEYS.tenantA}`, "Content-Type": "application/json", "Transfer-Encoding": "chunked" },
      });
      request.on("error", () => resolve());
      request.write('{"model":"gpt-5-mini","messages":[{"role":"user","content":"');
      setTimeout(() => {
        request.destroy();
        resolve();
      }, 200);
    });
    const lines = await eventually(async () => {
      const added = switchboard.logs.slice(before).filter((line) => line.startsWith("{"));
      return added.some((line) => line.includes('"event":"request"')) ? added.map((line) => JSON.parse(line) as JsonObject) : null;
    });
    expect(lines.filter((line) => line.level === "error")).toEqual([]);
    expect(lines.find((line) => line.event === "client_disconnected")).toMatchObject({ level: "info", path: "/v1/chat/completions" });
    expect(switchboard.upstream.chatCalls).toHaveLength(0);
  });
});

describe("delete means delete", () => {
  it("forgets the conversation's notes too, and a later turn in it is a 404: nothing recalls them", async () => {
    const conversation = { conversation_id: "conv_forget_notes" };
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("notes", { action: "save", text: "the vault code is 1234" })), reply.text("Saved."));
    await post({ ...hello, ...conversation });

    const deleted = await switchboard.request("/v1/conversations/conv_forget_notes", { method: "DELETE" });
    expect(await deleted.json()).toMatchObject({ deleted: true, tools: { notes: 1 } });

    const later = await post({ ...hello, ...conversation });
    expect(later.status).toBe(404);
    expect(await later.json()).toMatchObject({ error: { code: "conversation_not_found" } });
    // The notes tool itself, asked directly over MCP for that conversation, has nothing left.
    const recalled = await switchboard.request("/mcp", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-Conversation-Id": "conv_forget_notes" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "notes", arguments: { action: "recall" } } }),
    });
    const result = (await recalled.json()) as { result: { structuredContent?: JsonObject; content: Array<{ text: string }> } };
    expect(result.result.structuredContent ?? JSON.parse(result.result.content[0]!.text)).toMatchObject({ count: 0, notes: [] });
  });

  it("forgets only the asking tenant's data", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("notes", { action: "save", text: "A's note" })), reply.text("Saved."));
    await post({ ...hello, conversation_id: "conv_forget_tenant" });

    const asB = { Authorization: `Bearer ${KEYS.tenantB}` };
    expect((await switchboard.request("/v1/conversations/conv_forget_tenant", { method: "DELETE", headers: asB })).status).toBe(404);
    expect((await switchboard.request("/v1/conversations/conv_forget_tenant", { method: "DELETE" })).status).toBe(200);
  });
});

describe("streams carry only what the client asked for", () => {
  const streamed = (extra: JsonObject = {}) => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("calculate", { expression: "6*7" })));
    return post({ ...hello, stream: true, ...extra });
  };

  it("sends only standard chunks with one choice each by default, through a server tool step", async () => {
    const events = await sseEvents(await streamed());
    expect(events.length).toBeGreaterThan(2);
    for (const event of events) {
      expect(event.object).toBe("chat.completion.chunk");
      expect(event.switchboard).toBeUndefined();
      expect(event.choices).toHaveLength(1);
    }
  });

  it("adds a usage chunk only with include_usage, and tool events only with include_tool_events", async () => {
    const withUsage = await sseEvents(await streamed({ stream_options: { include_usage: true } }));
    expect(withUsage.filter((event) => (event.choices as unknown[]).length === 0)).toEqual([expect.objectContaining({ usage: expect.any(Object) })]);

    const withEvents = await sseEvents(await streamed({ stream_options: { include_tool_events: true } }));
    expect(withEvents.map((event) => (event.switchboard as JsonObject | undefined)?.type).filter(Boolean)).toEqual(["tool_calls", "tool_result"]);
  });

  it("does not crash a hand-written loop that indexes choices[0], JS style or Python style", async () => {
    const events = await sseEvents(await streamed());
    let js = "";
    for (const chunk of events as Array<{ choices: Array<{ delta: { content?: string | null } }> }>) js += chunk.choices[0]!.delta.content ?? "";

    // Python: chunk["choices"][0]["delta"].get("content") raises IndexError on an empty list.
    const index = <T>(list: T[], position: number): T => {
      if (position >= list.length) throw new Error("IndexError: list index out of range");
      return list[position]!;
    };
    let python = "";
    for (const chunk of events) python += (index(chunk.choices as Array<{ delta: JsonObject }>, 0).delta.content as string | undefined) ?? "";

    expect(js).toContain('"result":42');
    expect(python).toBe(js);
  });
});
