// Conversations in KV through the HTTP surface: continuity, concurrent turns, read back, delete,
// and bad request bodies that must be refused before anything is stored.

import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { listWorkers } from "../../scripts/lib/workers.mjs";
import { useSwitchboard } from "./support/harness.js";
import { type JsonObject, reply, toolCall } from "./support/mock-upstream.js";

const switchboard = useSwitchboard();

type Created = OpenAI.ChatCompletion & { conversation_id: string };

async function chat(body: JsonObject, headers: Record<string, string> = {}): Promise<Response> {
  return switchboard.request("/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify({ model: "gpt-5-mini", ...body }),
  });
}

async function readConversation(id: string): Promise<JsonObject & { messages: JsonObject[]; turns: JsonObject[] }> {
  const response = await switchboard.request(`/v1/conversations/${id}`);
  expect(response.status).toBe(200);
  return (await response.json()) as JsonObject & { messages: JsonObject[]; turns: JsonObject[] };
}

describe("continuity", () => {
  it("starts a conversation, stores every message of the turn, and continues it by id", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("calculate", { expression: "6*7" }, "call_calc")), reply.text("It is 42."));
    const first = (await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "6*7?" }] })) as Created;

    expect(first.conversation_id).toMatch(/^conv_[A-Za-z0-9]{24}$/);
    const stored = await readConversation(first.conversation_id);
    expect(stored.messages.map((message) => message.role)).toEqual(["user", "assistant", "tool", "assistant"]);
    expect(stored.messages[3]).toMatchObject({ role: "assistant", content: "It is 42." });

    switchboard.upstream.enqueue(reply.text("You asked about 6*7."));
    await switchboard.openai.chat.completions.create({
      model: "gpt-5-mini",
      messages: [{ role: "user", content: "What did I ask?" }],
      conversation_id: first.conversation_id,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);

    const sent = switchboard.upstream.chatCalls[2]!.body.messages as JsonObject[];
    expect(sent.map((message) => message.role)).toEqual(["user", "assistant", "tool", "assistant", "user"]);
    expect((await readConversation(first.conversation_id)).turns).toHaveLength(2);
  });

  it("takes the conversation id from the X-Conversation-Id header and echoes it back", async () => {
    const response = await chat({ messages: [{ role: "user", content: "hi" }] }, { "X-Conversation-Id": "ticket-4711" });

    expect(response.status).toBe(200);
    expect(response.headers.get("x-conversation-id")).toBe("ticket-4711");
    expect(((await response.json()) as JsonObject).conversation_id).toBe("ticket-4711");
    expect((await readConversation("ticket-4711")).messages).toHaveLength(2);
  });

  it("loses nothing when two turns on one conversation run at the same time", async () => {
    await chat({ conversation_id: "conv_concurrent", messages: [{ role: "user", content: "first" }] });

    const [left, right] = await Promise.all([
      chat({ conversation_id: "conv_concurrent", messages: [{ role: "user", content: "left" }] }),
      chat({ conversation_id: "conv_concurrent", messages: [{ role: "user", content: "right" }] }),
    ]);
    expect([left.status, right.status]).toEqual([200, 200]);

    const stored = await readConversation("conv_concurrent");
    const userTexts = stored.messages.filter((message) => message.role === "user").map((message) => message.content);
    expect(userTexts[0]).toBe("first");
    expect([...userTexts].sort()).toEqual(["first", "left", "right"]);
    expect(stored.turns).toHaveLength(3);

    // The next turn merges both heads, and sees all three earlier turns.
    await chat({ conversation_id: "conv_concurrent", messages: [{ role: "user", content: "after" }] });
    const sent = switchboard.upstream.chatCalls.at(-1)!.body.messages as JsonObject[];
    expect(sent.filter((message) => message.role === "user")).toHaveLength(4);
    expect((await readConversation("conv_concurrent")).turns).toHaveLength(4);
  });

  it("keeps nothing of a turn sent with store: false, and stores the next one as usual", async () => {
    const conversationId = `conv_unstored_${Date.now()}`;
    switchboard.upstream.enqueue(reply.text("Not kept."), reply.text("Kept."));
    const unstored = await chat({ conversation_id: conversationId, store: false, messages: [{ role: "user", content: "secret" }] });
    expect(unstored.status).toBe(200);
    expect((await switchboard.request(`/v1/conversations/${conversationId}`)).status).toBe(404);

    await chat({ conversation_id: conversationId, messages: [{ role: "user", content: "hello" }] });
    expect((await readConversation(conversationId)).messages.map((message) => message.content)).toEqual(["hello", "Kept."]);
  });

  it("deletes a conversation", async () => {
    await chat({ conversation_id: "conv_to_delete", messages: [{ role: "user", content: "bye" }] });

    const deleted = await switchboard.request("/v1/conversations/conv_to_delete", { method: "DELETE" });
    // Every tool that keeps data per conversation says how much of it it forgot.
    expect(await deleted.json()).toEqual({ id: "conv_to_delete", object: "conversation.deleted", deleted: true, tools: { notes: 0 } });
    expect((await switchboard.request("/v1/conversations/conv_to_delete")).status).toBe(404);
  });

  it("answers 404 in OpenAI format for an unknown conversation", async () => {
    const response = await switchboard.request("/v1/conversations/conv_nope");

    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: { message: "No conversation conv_nope.", type: "not_found_error", param: null, code: "conversation_not_found" },
    });
  });
});

describe("bad request bodies", () => {
  const cases: Array<[string, string, string | null]> = [
    ["a body that is not JSON", "{not json", null],
    ["a JSON array", "[1,2]", null],
    ["no messages", JSON.stringify({ model: "gpt-5-mini" }), "messages"],
    ["empty messages", JSON.stringify({ model: "gpt-5-mini", messages: [] }), "messages"],
    ["messages of the wrong type", JSON.stringify({ model: "gpt-5-mini", messages: "hi" }), "messages"],
    ["a model that is not a string", JSON.stringify({ model: 5, messages: [{ role: "user", content: "hi" }] }), "model"],
    ["an unknown role", JSON.stringify({ messages: [{ role: "robot", content: "hi" }] }), "messages[0].role"],
    ["a tool message without tool_call_id", JSON.stringify({ messages: [{ role: "tool", content: "x" }] }), "messages[0].tool_call_id"],
    [
      "a tool without a name",
      JSON.stringify({ messages: [{ role: "user", content: "hi" }], tools: [{ type: "function", function: {} }] }),
      "tools[0].function.name",
    ],
    ["a bad conversation id", JSON.stringify({ messages: [{ role: "user", content: "hi" }], conversation_id: "../etc/passwd" }), "conversation_id"],
  ];

  for (const [name, body, param] of cases) {
    it(`refuses ${name} with a 400 in OpenAI format`, async () => {
      const response = await switchboard.request("/v1/chat/completions", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Conversation-Id": "conv_never_written" },
        body,
      });

      expect(response.status).toBe(400);
      const error = ((await response.json()) as { error: JsonObject }).error;
      expect(error).toMatchObject({ type: "invalid_request_error", param });
      expect(String(error.message)).not.toMatch(/at .*\.(ts|js):\d+/);
      expect(switchboard.upstream.chatCalls).toHaveLength(0);
    });
  }

  it("stores nothing for a refused body", async () => {
    expect((await switchboard.request("/v1/conversations/conv_never_written")).status).toBe(404);
  });

  it("raises BadRequestError in the openai client", async () => {
    const error = await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: [] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
  });
});

describe("catalog", () => {
  it("lists the configured model as OpenAI clients expect", async () => {
    const models = await switchboard.openai.models.list();
    expect(models.data.map((model) => model.id)).toEqual(["gpt-5-mini"]);
  });

  it("lists every bound tool with its version", async () => {
    const body = (await (await switchboard.request("/v1/tools")).json()) as { data: Array<{ function: { name: string }; metadata: JsonObject }> };
    // Derived from wrangler.toml, so a tool added with `npm run new-tool` keeps this test green.
    const bound = (unstable_readConfig({ config: listWorkers()[0]!.configPath }, { hideWarnings: true }).services ?? []).map(
      (entry: { binding: string }) => entry.binding,
    );
    expect(bound).toEqual(expect.arrayContaining(["TOOL_CALCULATOR", "TOOL_CLOCK", "TOOL_NOTES", "TOOL_WEATHER"]));
    expect(body.data.map((tool) => tool.metadata.binding).sort()).toEqual([...bound, "TOOL_FLAKY"].sort());
    expect(body.data.find((tool) => tool.function.name === "notes")!.metadata).toMatchObject({
      side_effects: true,
      binding: "TOOL_NOTES",
      version: expect.any(String),
    });
  });

  it("says what offering each tool costs on every model call: its definition's bytes and a token estimate", async () => {
    const body = (await (await switchboard.request("/v1/tools")).json()) as {
      data: Array<{ type: string; function: JsonObject; metadata: { definition_bytes: number; estimated_tokens: number } }>;
    };
    for (const tool of body.data) {
      const bytes = new TextEncoder().encode(JSON.stringify({ type: tool.type, function: tool.function })).byteLength;
      expect(tool.metadata.definition_bytes).toBe(bytes);
      expect(tool.metadata.estimated_tokens).toBe(Math.ceil(bytes / 4));
    }
  });

  it("answers unknown routes with a 404 in OpenAI format", async () => {
    const response = await switchboard.request("/v1/nothing");
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: JsonObject }).error).toMatchObject({ type: "not_found_error" });
  });
});
