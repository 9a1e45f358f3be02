import { describe, expect, it } from "vitest";
import { eventually } from "./support/eventually.js";
import { KEYS, useSwitchboard } from "./support/harness.js";
import { completion, type JsonObject, reply, sseResponse, toChunks, toolCall } from "./support/mock-upstream.js";
import { sendGitHubWebhook, sendStandardWebhook } from "./support/webhook-senders.js";

const switchboard = useSwitchboard();

const asWebhooksTenant = { Authorization: `Bearer ${KEYS.webhooks}` };
let sequence = 0;

function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return switchboard.request("/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

function slowly(content: string, delayMs: number) {
  return async (body: JsonObject) => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return body.stream ? sseResponse(toChunks(completion({ content }))) : Response.json(completion({ content }));
  };
}

/** The assistant text a chat-completions SSE stream carries. */
function streamedContent(sse: string): string {
  return sse
    .split("\n")
    .filter((line) => line.startsWith("data: {"))
    .map((line) => (JSON.parse(line.slice(6)) as { choices: Array<{ delta?: { content?: string | null } }> }).choices[0]?.delta?.content ?? "")
    .join("");
}

/** Every note with this text that the notes tool Worker keeps for a tenant, in any conversation, read from its own KV. */
async function notesWithText(tenant: string, text: string): Promise<string[]> {
  const kv = await switchboard.miniflare.getKVNamespace("NOTES", "switchboard-tool-notes");
  const listed = await kv.list({ prefix: `notes/${encodeURIComponent(tenant)}/` });
  return listed.keys.filter((key) => (key.metadata as { preview?: string } | undefined)?.preview === text).map((key) => key.name);
}

const sendStandard = (body: string, id: string) => sendStandardWebhook(switchboard.url, body, { id });
const sendGitHub = (body: string, delivery: string) => sendGitHubWebhook(switchboard.url, body, { delivery });

function issuePayload(number: number): string {
  return JSON.stringify({
    action: "opened",
    issue: { number, title: "Crash on start", body: "It crashes." },
    repository: { full_name: "acme/once" },
    sender: { login: "octocat" },
  });
}

async function storedMessages(id: string, headers: Record<string, string> = {}): Promise<JsonObject[] | null> {
  const response = await switchboard.request(`/v1/conversations/${id}`, { headers });
  return response.status === 200 ? ((await response.json()) as { messages: JsonObject[] }).messages : null;
}

describe("Idempotency-Key under concurrency", () => {
  it("runs the model once for 12 concurrent identical requests, and gives all 12 the same answer", async () => {
    switchboard.upstream.enqueue(slowly("exactly once", 300));
    const key = `idem-burst-${Date.now()}`;
    const hello = { model: "gpt-5-mini", messages: [{ role: "user", content: "hello" }] };

    const responses = await Promise.all(Array.from({ length: 12 }, () => post(hello, { "Idempotency-Key": key })));
    const bodies = await Promise.all(responses.map((response) => response.json()));

    expect(responses.map((response) => response.status)).toEqual(Array(12).fill(200));
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
    expect(new Set(bodies.map((body) => JSON.stringify(body))).size).toBe(1);
    expect(responses.filter((response) => response.headers.get("idempotent-replayed") === "true")).toHaveLength(11);
    const conversationId = (bodies[0] as { conversation_id: string }).conversation_id;
    expect((await storedMessages(conversationId))?.filter((message) => message.role === "user")).toHaveLength(1);
  });

  it("streams the same answer to concurrent streaming duplicates from one model call", async () => {
    switchboard.upstream.enqueue(slowly("streamed once", 300));
    const key = `idem-stream-burst-${Date.now()}`;
    const body = { model: "gpt-5-mini", stream: true, messages: [{ role: "user", content: "hello" }] };

    const texts = await Promise.all(Array.from({ length: 4 }, async () => (await post(body, { "Idempotency-Key": key })).text()));

    expect(switchboard.upstream.chatCalls).toHaveLength(1);
    for (const text of texts) {
      expect(streamedContent(text)).toBe("streamed once");
      expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    }
  });

  it("tells waiting duplicates to retry when the first request fails, and lets the retry run", async () => {
    switchboard.upstream.enqueue(async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return Response.json({ error: { message: "bad request", type: "invalid_request_error", param: null, code: null } }, { status: 400 });
    });
    const key = `idem-fail-${Date.now()}`;
    const hello = { model: "gpt-5-mini", messages: [{ role: "user", content: "hello" }] };

    const first = post(hello, { "Idempotency-Key": key });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const waiter = await post(hello, { "Idempotency-Key": key });

    expect((await first).status).toBe(400);
    expect(waiter.status).toBe(409);
    expect(waiter.headers.get("retry-after")).toBe("1");
    expect(((await waiter.json()) as { error: JsonObject }).error).toMatchObject({ code: "idempotency_key_in_use" });

    switchboard.upstream.enqueue(reply.text("second time lucky"));
    const retry = await post(hello, { "Idempotency-Key": key });
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
  });
});

describe("Idempotency-Key across failures", () => {
  it("leaves the key free when the request is refused before it runs (a bad X-Conversation-Id)", async () => {
    const key = `idem-refused-${Date.now()}`;
    const hello = { model: "gpt-5-mini", messages: [{ role: "user", content: "hello" }] };
    expect((await post(hello, { "Idempotency-Key": key, "X-Conversation-Id": "not/valid" })).status).toBe(400);

    switchboard.upstream.enqueue(reply.text("hi"));
    const corrected = await post(hello, { "Idempotency-Key": key });
    expect(corrected.status).toBe(200);
    expect(corrected.headers.get("idempotent-replayed")).toBeNull();
  });

  it("answers a retry of a stream the client cut short from the turn that went on, without running it twice", async () => {
    const key = `idem-cut-${Date.now()}`;
    const body = { model: "gpt-5-mini", stream: true, messages: [{ role: "user", content: "tell me a story" }] };
    switchboard.upstream.enqueue(() => sseResponse(toChunks(completion({ content: "Once upon a time there was a long story" })), 50));
    const aborter = new AbortController();
    const first = await switchboard.request("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": key },
      body: JSON.stringify(body),
      signal: aborter.signal,
    });
    const conversationId = first.headers.get("x-conversation-id")!;
    const reader = first.body!.getReader();
    await reader.read();
    await reader.read();
    aborter.abort();

    // The turn goes on in its home and settles the key with its answer; the retry replays it.
    const retry = await eventually(async () => {
      const response = await post(body, { "Idempotency-Key": key });
      return response.status === 200 ? response : null;
    });
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(streamedContent(await retry.text())).toBe("Once upon a time there was a long story");
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
    const stored = (await (await switchboard.request(`/v1/conversations/${conversationId}`)).json()) as {
      turns: Array<{ incomplete: boolean }>;
      messages: JsonObject[];
    };
    expect(stored.turns).toHaveLength(1);
    expect(stored.turns[0]?.incomplete).toBe(false);
    expect(stored.messages.map((message) => message.content)).toEqual(["tell me a story", "Once upon a time there was a long story"]);
  });
});

describe("tool side effects keyed on the turn", () => {
  it("leaves one note when a client retries a failed request with the same Idempotency-Key", async () => {
    const key = `idem-note-${Date.now()}`;
    const text = `locker ${key}`;
    const body = { model: "gpt-5-mini", messages: [{ role: "user", content: "remember my locker" }] };
    switchboard.upstream.enqueue(
      reply.toolCalls(toolCall("notes", { action: "save", text }, "call_first_attempt")),
      reply.error(400, "the model failed after the tool ran"),
    );
    const failed = await post(body, { "Idempotency-Key": key });
    expect(failed.status).toBe(400);

    // The retry: the model calls the tool again, with a new call id, as a re-run turn does.
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("notes", { action: "save", text }, "call_second_attempt")), reply.text("Saved."));
    const retried = await post(body, { "Idempotency-Key": key });
    expect(retried.status).toBe(200);
    const { conversation_id: conversationId } = (await retried.json()) as { conversation_id: string };

    expect(await notesWithText("tenant-a", text)).toHaveLength(1);
    const messages = await storedMessages(conversationId);
    expect(messages?.filter((message) => message.role === "user")).toHaveLength(1);
  });

  it("leaves one note when the queue redelivers a webhook job whose turn failed after the tool ran", async () => {
    const text = `triage issue 901 at ${Date.now()}`;
    switchboard.upstream.enqueue(
      reply.toolCalls(toolCall("notes", { action: "save", text }, "call_job_first")),
      reply.error(400, "the model failed after the tool ran"),
      reply.toolCalls(toolCall("notes", { action: "save", text }, "call_job_second")),
      reply.text("Label: bug."),
    );
    const ack = (await (await sendGitHub(issuePayload(901), `redelivered-${Date.now()}`)).json()) as JsonObject;

    const messages = await eventually(() => storedMessages(String(ack.conversation_id), asWebhooksTenant));
    expect(messages.at(-1)?.content).toBe("Label: bug.");
    expect(switchboard.upstream.chatCalls).toHaveLength(4);
    expect(await notesWithText("webhooks", text)).toHaveLength(1);
  });
});

describe("webhook deliveries", () => {
  it("acknowledges exactly one of 8 concurrent copies of a delivery as new, and runs one turn and one callback", async () => {
    const id = `msg_concurrent_${Date.now()}`;
    const body = JSON.stringify({ type: "order.created", data: { id: `ord_${++sequence}`, total: 1, currency: "EUR", city: "Paris, France" } });
    switchboard.upstream.enqueue(slowly("Shipping is fine.", 100));

    const responses = await Promise.all(Array.from({ length: 8 }, () => sendStandard(body, id)));
    const acks = (await Promise.all(responses.map((response) => response.json()))) as JsonObject[];

    expect(responses.map((response) => response.status)).toEqual(Array(8).fill(202));
    expect(acks.filter((ack) => ack.duplicate === false)).toHaveLength(1);
    expect(new Set(acks.map((ack) => ack.conversation_id)).size).toBe(1);
    await eventually(async () => (switchboard.upstream.callbacks.length > 0 ? true : null));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(switchboard.upstream.callbacks).toHaveLength(1);
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
  });

  it("treats a captured GitHub delivery resent under a new delivery id as a duplicate, with no model call", async () => {
    const body = issuePayload(902);
    const first = (await (await sendGitHub(body, `original-${Date.now()}`)).json()) as JsonObject;
    await eventually(() => storedMessages(String(first.conversation_id), asWebhooksTenant));
    const calls = switchboard.upstream.chatCalls.length;

    const replays = await Promise.all([1, 2, 3].map((n) => sendGitHub(body, `forged-${n}-${Date.now()}`)));

    for (const replay of replays) {
      expect(replay.status).toBe(202);
      expect(await replay.json()).toMatchObject({ duplicate: true, id: first.id, conversation_id: first.conversation_id });
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(switchboard.upstream.chatCalls).toHaveLength(calls);
  });
});
