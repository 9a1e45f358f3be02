// Streaming through the whole loop, checked with the clients people use: the official openai client
// (its iterator and its strict stream accumulator) and the Vercel AI SDK. The mock DMXAPI streams
// every quirk in the wire notes; each test asserts what the client saw and what was stored.

import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, stepCountIs, streamText, tool } from "ai";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { eventually } from "./support/eventually.js";
import { KEYS, useSwitchboard } from "./support/harness.js";
import { completion, type JsonObject, reply, toolCall } from "./support/mock-upstream.js";

const switchboard = useSwitchboard({ vars: { STREAM_KEEPALIVE_MS: "100" } });

type Message = JsonObject & { role: string; content?: unknown; tool_call_id?: string; tool_calls?: JsonObject[] };

function toolMessages(call: number): Message[] {
  return (switchboard.upstream.chatCalls[call]!.body.messages as Message[]).filter((message) => message.role === "tool");
}

async function stored(id: string): Promise<{ messages: Message[]; turns: Array<JsonObject & { incomplete: boolean }> }> {
  const response = await switchboard.request(`/v1/conversations/${id}`);
  expect(response.status).toBe(200);
  return (await response.json()) as { messages: Message[]; turns: Array<JsonObject & { incomplete: boolean }> };
}

/** Reads a raw SSE response into its `data:` payloads and comment lines. */
async function readSse(response: Response): Promise<{ events: unknown[]; comments: string[]; done: boolean }> {
  const text = await response.text();
  const events: unknown[] = [];
  const comments: string[] = [];
  let done = false;
  for (const block of text.split("\n\n")) {
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) comments.push(line);
      if (!line.startsWith("data: ")) continue;
      const data = line.slice(6);
      if (data === "[DONE]") done = true;
      else events.push(JSON.parse(data));
    }
  }
  return { events, comments, done };
}

const chunkBase = (extra: JsonObject = {}) => ({ id: "chatcmpl-q", object: "chat.completion.chunk", created: 1, model: "m", ...extra });
const data = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;
const delta = (value: JsonObject, finish: string | null = null) => data(chunkBase({ choices: [{ index: 0, delta: value, finish_reason: finish }] }));
const usageChunk = data(chunkBase({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } }));
const DONE = "data: [DONE]\n\n";

describe("the openai client", () => {
  it("iterates a stream through a server tool step, with usage last", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", { location: "上海, 中国" }, "call_s1")));

    const stream = await switchboard.openai.chat.completions.create({
      model: "gpt-5-mini",
      messages: [{ role: "user", content: "上海今天几度?" }],
      stream: true,
      stream_options: { include_usage: true, include_tool_events: true } as OpenAI.ChatCompletionStreamOptions,
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    const content = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("");
    expect(content).toContain("23.4");
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    expect(chunks.every((chunk) => chunk.object === "chat.completion.chunk")).toBe(true);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 });
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe("stop");
    // Server tool activity, asked for, rides on extension chunks without choices.
    const activity = chunks.map((chunk) => (chunk as unknown as JsonObject).switchboard).filter(Boolean);
    expect(activity).toEqual([
      { type: "tool_calls", step: 1, calls: [{ id: "call_s1", name: "get_current_weather", arguments: '{"location":"上海, 中国"}' }] },
      expect.objectContaining({ type: "tool_result", step: 1, id: "call_s1", ok: true }),
    ]);
  });

  it("satisfies the strict accumulator of chat.completions.stream() through several server steps", async () => {
    switchboard.upstream.enqueue(
      reply.toolCalls(toolCall("calculate", { expression: "6*7" }), toolCall("get_current_time", { timezone: "Europe/Paris" })),
      reply.toolCalls(toolCall("calculate", { expression: "42+1" })),
    );

    const stream = switchboard.openai.chat.completions.stream({ model: "gpt-5-mini", messages: [{ role: "user", content: "go" }] });
    const final = await stream.finalChatCompletion();

    expect(final.choices[0]!.message.content).toContain('"result":43');
    expect(final.choices[0]!.finish_reason).toBe("stop");
    expect(switchboard.upstream.chatCalls).toHaveLength(3);
  });

  it("streams calls to client-declared functions back unexecuted, as OpenAI does", async () => {
    const weather = {
      type: "function" as const,
      function: {
        name: "get_current_weather",
        description: "获得天气信息",
        parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
      },
    };
    switchboard.upstream.enqueue(
      reply.toolCalls(toolCall("get_current_weather", { location: "上海, 中国", unit: "celsius" }, "call_Syfqyc3RXs1XNjjhUfDUwH76")),
    );

    const stream = switchboard.openai.chat.completions.stream({
      model: "gpt-5-mini",
      messages: [{ role: "user", content: "上海今天几度?" }],
      tools: [weather],
    });
    const final = await stream.finalChatCompletion();

    expect(final.choices[0]!.finish_reason).toBe("tool_calls");
    expect(final.choices[0]!.message.tool_calls).toEqual([
      {
        id: "call_Syfqyc3RXs1XNjjhUfDUwH76",
        type: "function",
        function: { name: "get_current_weather", arguments: '{"location":"上海, 中国","unit":"celsius"}' },
      },
    ]);
    expect(switchboard.upstream.openMeteoCalls).toHaveLength(0);
  });

  it("stores the same turn a non-streaming request stores", async () => {
    const script = () => switchboard.upstream.enqueue(reply.toolCalls(toolCall("calculate", { expression: "2+2" }, "call_same")), reply.text("Four."));
    script();
    const plain = (await switchboard.openai.chat.completions.create({
      model: "gpt-5-mini",
      messages: [{ role: "user", content: "2+2?" }],
    })) as unknown as JsonObject;
    script();
    const response = await switchboard.request("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model: "gpt-5-mini", messages: [{ role: "user", content: "2+2?" }], stream: true }),
    });
    const streamedId = response.headers.get("x-conversation-id")!;
    const { done } = await readSse(response);
    expect(done).toBe(true);

    const shape = (messages: Message[]) =>
      messages.map(({ role, content, tool_call_id, tool_calls }) => ({
        role,
        content,
        tool_call_id,
        calls: tool_calls?.map((call) => [call.id, call.function]),
      }));
    expect(shape((await stored(streamedId)).messages)).toEqual(shape((await stored(String(plain.conversation_id))).messages));
    expect((await stored(streamedId)).turns[0]!.incomplete).toBe(false);
  });

  it("sends its first bytes before the tool step finishes and keeps the connection alive while tools run", async () => {
    const seenBeforeSecondCall: number[] = [];
    let received = 0;
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("flaky", { mode: "hang" })), (body) => {
      seenBeforeSecondCall.push(received);
      return reply.text("done waiting")(body, new Request("http://x"));
    });

    const response = await switchboard.request("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model: "gpt-5-mini", messages: [{ role: "user", content: "wait" }], stream: true }),
    });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += 1;
      text += decoder.decode(value, { stream: true });
    }

    expect(seenBeforeSecondCall[0]).toBeGreaterThan(0);
    expect(text).toMatch(/^: keep-alive$/m);
    expect(text).toContain("done waiting".slice(0, 5));
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
  });

  it("answers a refused first request with a plain HTTP error, not a stream", async () => {
    switchboard.upstream.enqueue(reply.error(400, "Unsupported parameter: 'foo'", { type: "invalid_request_error", param: "foo" }));

    const error = await switchboard.openai.chat.completions
      .create({ model: "gpt-5-mini", messages: [{ role: "user", content: "hi" }], stream: true })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
  });
});

describe("the Vercel AI SDK", () => {
  const provider = () =>
    createOpenAICompatible({ name: "switchboard", baseURL: new URL("/v1", switchboard.url).href, apiKey: KEYS.tenantA, includeUsage: true });

  it("generateText gets an answer made with a server tool", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("calculate", { expression: "6*7" })));

    const result = await generateText({ model: provider()("gpt-5-mini"), prompt: "What is 6*7?" });

    expect(result.text).toContain('"result":42');
    expect(result.finishReason).toBe("stop");
  });

  it("streamText streams an answer made with a server tool", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", { location: "Paris, France" })));

    const result = streamText({ model: provider()("gpt-5-mini"), prompt: "Weather in Paris?" });
    let text = "";
    for await (const part of result.textStream) text += part;

    expect(text).toContain("11.2");
    expect(await result.finishReason).toBe("stop");
    expect((await result.usage).totalTokens).toBe(30);
  });

  for (const mode of ["generateText", "streamText"] as const) {
    it(`${mode} runs a client-side tool the orchestrator hands back`, async () => {
      switchboard.upstream.enqueue(reply.toolCalls(toolCall("lookup_order", { order_id: "A-17" }, "call_client_1")), reply.text("Order A-17 has shipped."));
      const tools = {
        lookup_order: tool({
          description: "Look up an order",
          inputSchema: z.object({ order_id: z.string() }),
          execute: async ({ order_id }) => ({ order_id, status: "shipped" }),
        }),
      };
      const options = { model: provider()("gpt-5-mini"), prompt: "Where is order A-17?", tools, stopWhen: stepCountIs(3) };

      let text: string;
      if (mode === "generateText") {
        text = (await generateText(options)).text;
      } else {
        const result = streamText(options);
        text = "";
        for await (const part of result.textStream) text += part;
      }

      expect(text).toBe("Order A-17 has shipped.");
      const followUp = switchboard.upstream.chatCalls[1]!.body.messages as Message[];
      expect(followUp.at(-1)).toMatchObject({ role: "tool", tool_call_id: "call_client_1" });
      expect(String(followUp.at(-1)!.content)).toContain("shipped");
    });
  }
});

describe("streaming quirks from the upstream", () => {
  async function runQuirk(pieces: string[], expected: Array<[string, JsonObject]>): Promise<void> {
    switchboard.upstream.enqueue(reply.sse(pieces));
    const stream = switchboard.openai.chat.completions.stream({ model: "gpt-5-mini", messages: [{ role: "user", content: "go" }] });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.message.content).toContain("From the tools");
    const results = toolMessages(1);
    const sentCalls = ((switchboard.upstream.chatCalls[1]!.body.messages as Message[])[1]!.tool_calls ?? []) as Array<{
      id: string;
      function: { name: string; arguments: string };
    }>;
    expect(sentCalls.map((call) => [call.function.name, JSON.parse(call.function.arguments)])).toEqual(expected.map(([name, args]) => [name, args]));
    expect(new Set(sentCalls.map((call) => call.id)).size).toBe(expected.length);
    expect(results.map((message) => message.tool_call_id)).toEqual(sentCalls.map((call) => call.id));
  }

  const header = (index: number | undefined, id: string | undefined, name: string, args = "") => {
    const fragment: JsonObject = { type: "function", function: { name, arguments: args } };
    if (index !== undefined) fragment.index = index;
    if (id !== undefined) fragment.id = id;
    return fragment;
  };
  const args = (index: number | undefined, text: string) =>
    index === undefined ? { function: { arguments: text } } : { index, function: { arguments: text } };

  it("follows the notes' two parallel calls", async () => {
    await runQuirk(
      [
        delta({ role: "assistant", content: null }),
        delta({ tool_calls: [header(0, "call_a1", "calculate")] }),
        delta({ tool_calls: [args(0, '{"expression":')] }),
        delta({ tool_calls: [args(0, '"1+1"}')] }),
        delta({ tool_calls: [header(1, "call_b2", "get_current_time")] }),
        delta({ tool_calls: [args(1, '{"timezone":"Asia/Tokyo"}')] }),
        delta({}, "tool_calls"),
        usageChunk,
        DONE,
      ],
      [
        ["calculate", { expression: "1+1" }],
        ["get_current_time", { timezone: "Asia/Tokyo" }],
      ],
    );
  });

  it("takes calls without an index, each complete in one chunk", async () => {
    await runQuirk(
      [
        delta({ tool_calls: [header(undefined, "g1", "calculate", '{"expression":"2*3"}')] }),
        delta({ tool_calls: [header(undefined, "g2", "calculate", '{"expression":"4*5"}')] }),
        delta({}, "stop"),
        DONE,
      ],
      [
        ["calculate", { expression: "2*3" }],
        ["calculate", { expression: "4*5" }],
      ],
    );
  });

  it("tells apart calls that all come at index 0 with distinct ids", async () => {
    await runQuirk(
      [
        delta({ tool_calls: [header(0, "z1", "calculate", '{"expression":')] }),
        delta({ tool_calls: [args(0, '"1+2"}')] }),
        delta({ tool_calls: [header(0, "z2", "calculate", '{"expression":"3+4"}')] }),
        delta({}, "tool_calls"),
        DONE,
      ],
      [
        ["calculate", { expression: "1+2" }],
        ["calculate", { expression: "3+4" }],
      ],
    );
  });

  it("treats indexes starting at 1, or sparse, as keys", async () => {
    await runQuirk(
      [
        delta({ tool_calls: [header(1, "s1", "calculate")] }),
        delta({ tool_calls: [header(3, "s3", "calculate")] }),
        delta({ tool_calls: [args(3, '{"expression":"9-1"}')] }),
        delta({ tool_calls: [args(1, '{"expression":"9-2"}')] }),
        delta({}, "tool_calls"),
        DONE,
      ],
      [
        ["calculate", { expression: "9-2" }],
        ["calculate", { expression: "9-1" }],
      ],
    );
  });

  it("ignores a repeated header and gives calls without ids their own", async () => {
    await runQuirk(
      [
        delta({ tool_calls: [header(0, undefined, "calculate")] }),
        delta({ tool_calls: [header(0, undefined, "calculate")] }),
        delta({ tool_calls: [args(0, '{"expression":"5+5"}')] }),
        delta({ tool_calls: [header(1, undefined, "calculate", '{"expression":"6+6"}')] }),
        delta({}, "tool_calls"),
        DONE,
      ],
      [
        ["calculate", { expression: "5+5" }],
        ["calculate", { expression: "6+6" }],
      ],
    );
  });

  it("reads : PING comments, \\r\\n line endings, obfuscation padding, split and merged events", async () => {
    const events = [
      ": PING\r\n\r\n",
      delta({ role: "assistant", content: null }).replace(/\n/g, "\r\n"),
      data(chunkBase({ obfuscation: "xxxx", choices: [{ index: 0, delta: { tool_calls: [header(0, "p1", "calculate")] }, finish_reason: null }] })),
      `${delta({ tool_calls: [args(0, '{"expression":"7*6"}')] }) + delta({}, "tool_calls")}: PING\n\n`,
      usageChunk,
      DONE,
    ].join("");
    // Cut the whole stream into 7-byte network reads, splitting events (and UTF-8) anywhere.
    const pieces = events.match(/[\s\S]{1,7}/g)!;
    await runQuirk(pieces, [["calculate", { expression: "7*6" }]]);
  });

  it("accepts a stream cut off without [DONE] once the message finished", async () => {
    await runQuirk(
      [delta({ tool_calls: [header(0, "c1", "calculate", '{"expression":"1+1"}')] }), delta({}, "tool_calls")],
      [["calculate", { expression: "1+1" }]],
    );
  });

  it("ends the client's stream with an error event on an error mid-stream, and stores what was said", async () => {
    switchboard.upstream.enqueue(
      reply.sse([
        delta({ role: "assistant", content: "Partial answ" }),
        data({ error: { message: "upstream overloaded", type: "server_error", code: "overloaded" } }),
      ]),
    );

    const response = await switchboard.request("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model: "gpt-5-mini", messages: [{ role: "user", content: "hi" }], stream: true }),
    });
    const id = response.headers.get("x-conversation-id")!;
    const { events, done } = await readSse(response);

    expect(done).toBe(false);
    expect(events.at(-1)).toEqual({
      error: { message: "DMXAPI failed mid-stream: upstream overloaded", type: "upstream_error", param: null, code: "overloaded" },
    });
    // Bytes had reached the client: nothing is retried, on this model or a fallback.
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
    const conversation = await stored(id);
    expect(conversation.turns[0]!.incomplete).toBe(true);
    expect(conversation.messages).toEqual([
      { role: "user", content: "hi" },
      { role: "assistant", content: "Partial answ" },
    ]);
  });

  it("makes the openai client throw on an error event", async () => {
    switchboard.upstream.enqueue(reply.sse([delta({ role: "assistant", content: "x" }), data({ error: { message: "boom", type: "server_error" } })]));

    const stream = await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "hi" }], stream: true });
    const error = await (async () => {
      for await (const _chunk of stream) {
        // drain
      }
    })().catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(OpenAI.APIError);
  });
});

describe("client disconnects", () => {
  it("goes on when the client goes away mid-stream: the whole answer lands in the conversation", async () => {
    const slow = Array.from({ length: 40 }, (_, index) => delta({ content: `w${index} ` }));
    switchboard.upstream.enqueue(reply.sse([delta({ role: "assistant", content: "" }), ...slow, delta({}, "stop"), DONE], 20));

    const controller = new AbortController();
    const response = await switchboard.request("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model: "gpt-5-mini", messages: [{ role: "user", content: "talk slowly" }], stream: true }),
      signal: controller.signal,
    });
    const id = response.headers.get("x-conversation-id")!;
    const reader = response.body!.getReader();
    let text = "";
    while (!text.includes("w2 ")) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();

    // The turn runs in the conversation's home, not in the request the client left.
    const conversation = await eventually(async () => {
      const found = await switchboard.request(`/v1/conversations/${id}`);
      return found.status === 200 ? ((await found.json()) as Awaited<ReturnType<typeof stored>>) : null;
    });
    expect(conversation.turns[0]!.incomplete).toBe(false);
    expect(String(conversation.messages[1]!.content)).toBe(slow.map((_, index) => `w${index} `).join(""));
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
  });
});

void completion;
