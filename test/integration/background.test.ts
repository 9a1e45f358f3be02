// Turns that outlive their connection, on the Responses door: `background: true` answers at once and
// the run goes on in the conversation's home; the client polls it, streams it, drops the stream and
// picks it up again with `starting_after`, cancels it, and lists its input items. Driven by the
// official openai clients (v6 and v7) against the mock DMXAPI, which counts every model call.

import type OpenAI from "openai";
import OpenAIv7 from "openai-v7";
import { describe, expect, it } from "vitest";
import { eventually } from "./support/eventually.js";
import { KEYS, startSwitchboard, useSwitchboard } from "./support/harness.js";
import { completion, reply, toChunks, toolCall } from "./support/mock-upstream.js";

// Tools may take their time here: a cancel must land while one runs.
const switchboard = useSwitchboard({ vars: { TOOL_TIMEOUT_MS: "10000", DMXAPI_MAX_RETRIES: "0", STREAM_KEEPALIVE_MS: "100" } });

type Event = OpenAI.Responses.ResponseStreamEvent;

/** Polls the response until it has left `queued` and `in_progress`. */
function settled(id: string): Promise<OpenAI.Responses.Response> {
  return eventually(async () => {
    const response = await switchboard.openai.responses.retrieve(id);
    return response.status === "queued" || response.status === "in_progress" ? null : response;
  });
}

/** A model answer streamed slowly: `words` pieces, `delayMs` apart. */
const slowAnswer = (text: string, delayMs: number) => reply.sse(toChunks(completion({ content: text })), delayMs);

describe("background responses", () => {
  it("answer at once, queued, and a poll finds the run completed with its tool step in the output (openai v6)", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", { location: "Paris" }, "call_bg_paris")));

    const created = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "What's the weather in Paris?", background: true });

    expect(created.background).toBe(true);
    expect(["queued", "in_progress"]).toContain(created.status);
    expect(created.output).toEqual([]);
    const done = await settled(created.id);
    expect(done.status).toBe("completed");
    expect(done.id).toBe(created.id);
    expect(done.output.map((item) => item.type)).toEqual(["mcp_call", "message"]);
    expect(done.output[0]).toMatchObject({ type: "mcp_call", name: "get_current_weather", error: null });
    expect(done.output_text).toContain("Paris");
    expect(switchboard.upstream.chatCalls).toHaveLength(2);
  });

  it("work the same with the openai v7 client: create, retrieve, cancel and input items", async () => {
    const client = new OpenAIv7({ baseURL: new URL("/v1", switchboard.url).href, apiKey: KEYS.tenantA, maxRetries: 0 });
    switchboard.upstream.enqueue(reply.text("v7 says hello"));

    const created = await client.responses.create({ model: "gpt-5-mini", input: "hello from v7", background: true });
    const done = await eventually(async () => {
      const response = await client.responses.retrieve(created.id);
      return response.status === "completed" ? response : null;
    });
    expect(done.output_text).toBe("v7 says hello");
    const items = await client.responses.inputItems.list(created.id);
    expect(items.data.map((item) => item.type)).toEqual(["message"]);
    const refused = await client.responses.cancel(created.id).catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 400 });
  });

  it("refuse background without store, naming store", async () => {
    const error = await switchboard.openai.responses
      .create({ model: "gpt-5-mini", input: "hi", background: true, store: false })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ status: 400, param: "store" });
    expect(switchboard.upstream.chatCalls).toEqual([]);
  });
});

describe("a background stream", () => {
  it("dropped after a few events and resumed with starting_after yields exactly the remaining events, in order, ending with response.completed", async () => {
    switchboard.upstream.enqueue(slowAnswer("The quick brown fox jumps over the lazy dog, again and again and again.", 40));

    const stream = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "Tell me about the fox", background: true, stream: true });
    const seen: Event[] = [];
    for await (const event of stream) {
      seen.push(event);
      if (seen.length === 5) break; // the client drops its stream
    }
    expect(seen[0]).toMatchObject({ type: "response.created", sequence_number: 0, response: { status: "queued", background: true } });
    expect(seen.map((event) => event.sequence_number)).toEqual([0, 1, 2, 3, 4]);
    const id = (seen[0] as OpenAI.Responses.ResponseCreatedEvent).response.id;
    const last = seen.at(-1)!.sequence_number;

    const resumed: Event[] = [];
    for await (const event of await switchboard.openai.responses.retrieve(id, { stream: true, starting_after: last })) resumed.push(event);

    expect(resumed.map((event) => event.sequence_number)).toEqual(resumed.map((_, index) => last + 1 + index));
    expect(resumed.at(-1)).toMatchObject({ type: "response.completed", response: { status: "completed" } });
    const text = [...seen, ...resumed].flatMap((event) => (event.type === "response.output_text.delta" ? [event.delta] : [])).join("");
    expect(text).toBe("The quick brown fox jumps over the lazy dog, again and again and again.");
    // The whole stream again, from the start, is the same stream: what was dropped and what was resumed.
    const whole: Event[] = [];
    for await (const event of await switchboard.openai.responses.retrieve(id, { stream: true })) whole.push(event);
    expect(whole).toEqual([...seen, ...resumed]);
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
  });

  it("refuses a starting_after that is not a number or is past the end, and a foreground response", async () => {
    switchboard.upstream.enqueue(reply.text("short"));
    const created = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "short one", background: true });
    await settled(created.id);
    const bad = await switchboard.request(`/v1/responses/${created.id}?stream=true&starting_after=abc`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { param: "starting_after", type: "invalid_request_error" } });
    const past = await switchboard.request(`/v1/responses/${created.id}?stream=true&starting_after=100000`);
    expect(past.status).toBe(400);

    switchboard.upstream.enqueue(reply.text("in the foreground"));
    const foreground = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "now" });
    expect((await switchboard.request(`/v1/responses/${foreground.id}?stream=true`)).status).toBe(404);
  });
});

describe("cancelling a background response", () => {
  it("during a slow tool ends it cancelled, starts no further model call, and answers the same when cancelled twice", async () => {
    const release = switchboard.upstream.holdOpenMeteo();
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", { location: "Berlin" }, "call_bg_slow")));
    const created = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "Weather in Berlin?", background: true });
    await eventually(async () => (switchboard.upstream.openMeteoCalls.length > 0 ? true : null));

    const cancelled = await switchboard.openai.responses.cancel(created.id);
    expect(cancelled).toMatchObject({ id: created.id, status: "cancelled", background: true });
    release();
    const again = await switchboard.openai.responses.cancel(created.id);
    expect(again).toEqual(cancelled);
    expect((await switchboard.openai.responses.retrieve(created.id)).status).toBe("cancelled");
    // The next turn of the conversation runs once the cancelled run has let go of it: by then any
    // model call the cancelled run would have made is made. It made none.
    switchboard.upstream.enqueue(reply.text("next turn"));
    const next = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "anything else?", conversation: created.conversation?.id ?? "" });
    expect(next.output_text).toBe("next turn");
    expect(switchboard.upstream.chatCalls).toHaveLength(2);
    expect(switchboard.upstream.chatCalls[1]?.body.messages).toContainEqual({ role: "user", content: "anything else?" });
  });

  it("is refused for a finished response and for one that was not in the background", async () => {
    switchboard.upstream.enqueue(reply.text("done already"), reply.text("foreground"));
    const created = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "quick", background: true });
    await settled(created.id);
    expect(await switchboard.openai.responses.cancel(created.id).catch((error: unknown) => error)).toMatchObject({ status: 400 });
    const foreground = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "now" });
    expect(await switchboard.openai.responses.cancel(foreground.id).catch((error: unknown) => error)).toMatchObject({ status: 400 });
    const unknown = await switchboard.request(`/v1/responses/resp_${"0".repeat(64)}abcdefghijklmnop/cancel`, { method: "POST" });
    expect(unknown.status).toBe(404);
  });
});

describe("input items", () => {
  it("list what a response was given, the conversation's earlier items included, paginated in either order", async () => {
    switchboard.upstream.enqueue(reply.text("Nice to meet you, Ada."), reply.text("You are Ada."));
    const first = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "My name is Ada." });
    const second = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "What is my name?", previous_response_id: first.id });

    const all = [];
    for await (const item of switchboard.openai.responses.inputItems.list(second.id, { order: "asc", limit: 2 })) all.push(item);
    expect(all.map((item) => (item as { role?: string }).role)).toEqual(["user", "assistant", "user"]);
    expect(all.map((item) => JSON.stringify((item as { content: unknown }).content))).toEqual([
      expect.stringContaining("My name is Ada."),
      expect.stringContaining("Nice to meet you, Ada."),
      expect.stringContaining("What is my name?"),
    ]);
    const newestFirst = await switchboard.openai.responses.inputItems.list(second.id, { limit: 1 });
    expect(newestFirst.data).toHaveLength(1);
    expect(newestFirst.has_more).toBe(true);
    expect(newestFirst.data[0]?.id).toBe(all[2]?.id);
    const ids = new Set(all.map((item) => item.id));
    expect(ids.size).toBe(3);

    const other = switchboard.client(KEYS.tenantB);
    expect(await other.responses.inputItems.list(second.id).catch((error: unknown) => error)).toMatchObject({ status: 404 });
  });
});

describe("runs that do not complete", () => {
  it("end failed with the upstream's error when the model call fails, never stuck in progress", async () => {
    switchboard.upstream.enqueue(reply.error(503, "The model is overloaded.", {}, {}));
    const created = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "hello?", background: true });
    const ended = await settled(created.id);
    expect(ended.status).toBe("failed");
    expect(ended.error).toMatchObject({ message: expect.stringContaining("overloaded") });
    expect(typeof ended.error?.code).toBe("string");
  });

  it("end incomplete when the turn deadline passes, with what was generated so far", async () => {
    const slow = await startSwitchboard({ vars: { TURN_DEADLINE_MS: "600", DMXAPI_MAX_RETRIES: "0" } });
    try {
      slow.upstream.enqueue(slowAnswer("one two three four five six seven eight nine ten eleven twelve", 100));
      const created = await slow.openai.responses.create({ model: "gpt-5-mini", input: "count slowly", background: true });
      const ended = await eventually(async () => {
        const response = await slow.openai.responses.retrieve(created.id);
        return response.status === "queued" || response.status === "in_progress" ? null : response;
      });
      expect(ended.status).toBe("incomplete");
      expect(ended.incomplete_details).toEqual({ reason: "turn_deadline" });
      expect(ended.output_text.length).toBeGreaterThan(0);

      // A foreground request that ran out of time frees its Idempotency-Key: the retry runs again.
      const post = () =>
        slow.request("/v1/responses", {
          method: "POST",
          headers: { "Content-Type": "application/json", "Idempotency-Key": "deadline-then-retry" },
          body: JSON.stringify({ model: "gpt-5-mini", input: "try again" }),
        });
      slow.upstream.enqueue(slowAnswer("far too slow for the deadline, word after word after word", 100));
      expect((await post()).status).toBe(504);
      slow.upstream.enqueue(reply.text("in time"));
      const retried = await eventually(async () => {
        const response = await post();
        return response.status === 200 ? response : null;
      });
      expect(((await retried.json()) as { output_text?: string; output: unknown[] }).output).toHaveLength(1);
      expect(slow.upstream.chatCalls).toHaveLength(3);
    } finally {
      await slow.dispose();
    }
  });
});
