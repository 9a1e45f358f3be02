// Webhook triggers end to end: events signed by the senders' own libraries (standardwebhooks,
// @octokit/webhooks-methods), acknowledged with 202, run through the queue, stored, and answered
// to a callback that a Standard Webhooks library verifies.

import { sign as signGitHub } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { eventually } from "./support/eventually.js";
import { HOOK_SECRETS, KEYS, useSwitchboard } from "./support/harness.js";
import { type JsonObject, reply, toolCall } from "./support/mock-upstream.js";
import { type StandardOptions, sendGitHubWebhook, sendStandardWebhook } from "./support/webhook-senders.js";

const switchboard = useSwitchboard();

const asWebhooksTenant = { Authorization: `Bearer ${KEYS.webhooks}` };

function issuePayload(number: number, title = "Crash on start") {
  return JSON.stringify({
    action: "opened",
    issue: { number, title, body: "It crashes." },
    repository: { full_name: "acme/widgets" },
    sender: { login: "octocat" },
  });
}

function sendGitHub(body: string, options: { delivery?: string; signature?: string } = {}): Promise<Response> {
  return sendGitHubWebhook(switchboard.url, body, options);
}

function orderPayload(id = "ord_1") {
  return JSON.stringify({ type: "order.created", data: { id, total: 42.5, currency: "EUR", city: "Paris, France" } });
}

function sendStandard(body: string, options: StandardOptions = {}): Promise<Response> {
  return sendStandardWebhook(switchboard.url, body, options);
}

async function storedConversation(id: string): Promise<{ messages: JsonObject[] } | null> {
  const response = await switchboard.request(`/v1/conversations/${id}`, { headers: asWebhooksTenant });
  return response.status === 200 ? ((await response.json()) as { messages: JsonObject[] }) : null;
}

describe("GitHub-style events", () => {
  it("acknowledges at once with 202 and stores the answer of a turn run through the queue", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_time", { timezone: "UTC" })), reply.text("Label: bug. The app crashes on start."));

    const response = await sendGitHub(issuePayload(17));

    expect(response.status).toBe(202);
    const ack = (await response.json()) as JsonObject;
    expect(ack).toMatchObject({ object: "webhook.delivery", hook: "github-issues", status: "queued", duplicate: false });
    expect(ack.conversation_id).toMatch(/^wh-github-issues-acme-widgets-17-[0-9a-f]{8}$/);
    const conversation = await eventually(() => storedConversation(String(ack.conversation_id)));
    expect(conversation.messages.map((message) => message.role)).toEqual(["system", "user", "assistant", "tool", "assistant"]);
    expect(conversation.messages[1]!.content).toBe("GitHub issue #17 was opened by octocat: Crash on start\n\nIt crashes.");
    expect(conversation.messages.at(-1)!.content).toBe("Label: bug. The app crashes on start.");
    // Only the hook's allowlisted tools were offered.
    const offered = (switchboard.upstream.chatCalls[0]!.body.tools as Array<{ function: { name: string } }>).map((tool) => tool.function.name).sort();
    expect(offered).toEqual(["get_current_time", "notes"]);
  });

  it("puts every event about one issue in the same conversation", async () => {
    const first = (await (await sendGitHub(issuePayload(23))).json()) as JsonObject;
    await eventually(() => storedConversation(String(first.conversation_id)));
    const second = (await (await sendGitHub(issuePayload(23, "Still crashing"))).json()) as JsonObject;

    expect(second.conversation_id).toBe(first.conversation_id);
    const conversation = await eventually(async () => {
      const found = await storedConversation(String(first.conversation_id));
      return found && found.messages.filter((message) => message.role === "user").length >= 2 ? found : null;
    });
    expect(conversation.messages.filter((message) => message.role === "user")).toHaveLength(2);
    // The hook's system prompt comes with every event; the conversation holds it once, first.
    expect(conversation.messages.filter((message) => message.role === "system")).toHaveLength(1);
    expect(conversation.messages[0]!.role).toBe("system");
  });

  it("runs a replayed delivery only once", async () => {
    const body = issuePayload(31);
    const first = await sendGitHub(body, { delivery: "replayed-delivery-1" });
    const ack = (await first.json()) as JsonObject;
    await eventually(() => storedConversation(String(ack.conversation_id)));
    const calls = switchboard.upstream.chatCalls.length;

    const replay = await sendGitHub(body, { delivery: "replayed-delivery-1" });

    expect(replay.status).toBe(202);
    expect(await replay.json()).toMatchObject({ duplicate: true, conversation_id: ack.conversation_id });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(switchboard.upstream.chatCalls.length).toBe(calls);
  });

  it("rejects a tampered body, a one-byte change and a missing signature with 401", async () => {
    const body = issuePayload(40);
    const signature = await signGitHub(HOOK_SECRETS.github, body);
    const oneByte = body.replace("Crash", "Crask");

    expect((await sendGitHub(oneByte, { signature })).status).toBe(401);
    expect((await sendGitHub(body.replace("opened", "deleted"), { signature })).status).toBe(401);
    const unsigned = await fetch(new URL("/v1/webhooks/github-issues", switchboard.url), { method: "POST", body, headers: { "X-GitHub-Delivery": "x" } });
    expect(unsigned.status).toBe(401);
    expect(((await unsigned.json()) as { error: JsonObject }).error).toMatchObject({ code: "invalid_signature" });
    expect(switchboard.upstream.chatCalls).toHaveLength(0);
  });
});

describe("Standard Webhooks events", () => {
  it("runs the turn with the hook's tools and delivers the answer to a callback a Standard Webhooks library verifies", async () => {
    switchboard.upstream.enqueue(
      reply.toolCalls(toolCall("get_current_weather", { location: "Paris, France" })),
      reply.text("11.2 °C in Paris: no delay expected."),
    );

    const response = await sendStandard(orderPayload("ord_cb"));
    expect(response.status).toBe(202);
    const ack = (await response.json()) as JsonObject;

    const callback = await eventually(async () => switchboard.upstream.callbacks[0] ?? null);
    const verified = new Webhook(HOOK_SECRETS.ordersCallback).verify(callback.body, Object.fromEntries(callback.headers)) as JsonObject;
    expect(verified).toMatchObject({
      type: "switchboard.turn.completed",
      data: { hook: "orders", conversation_id: ack.conversation_id, answer: "11.2 °C in Paris: no delay expected." },
    });
    expect(callback.url.href).toBe(HOOK_SECRETS.ordersCallbackUrl);
    const conversation = await storedConversation(String(ack.conversation_id));
    expect(JSON.parse(String(conversation!.messages[2]!.content))).toMatchObject({ temperature: 11.2 });
  });

  it("retries a failing callback with the same message id until it is accepted", async () => {
    switchboard.upstream.callbackStatuses = [500, 503];
    await sendStandard(orderPayload("ord_retry"));

    await eventually(async () => (switchboard.upstream.callbacks.length >= 3 ? true : null));
    const ids = switchboard.upstream.callbacks.map((callback) => callback.headers.get("webhook-id"));
    expect(new Set(ids).size).toBe(1);
  });

  it("accepts a signature made with either secret during rotation", async () => {
    const id = `msg_rotation_${Date.now()}`;
    const at = new Date();
    const body = orderPayload("ord_rot");
    const old = new Webhook("whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZC0xMjM0").sign(id, at, body);
    const current = new Webhook(HOOK_SECRETS.orders).sign(id, at, body);
    const response = await fetch(new URL("/v1/webhooks/orders", switchboard.url), {
      method: "POST",
      headers: { "webhook-id": id, "webhook-timestamp": String(Math.floor(at.getTime() / 1000)), "webhook-signature": `${old} ${current}` },
      body,
    });
    expect(response.status).toBe(202);
  });

  // Timestamps travel in whole seconds: 302 s (not 301) stays past the 300 s tolerance however the
  // cut to a second falls, and 298 s stays within it.
  it("rejects timestamps more than 300 s off either way and accepts 298 s", async () => {
    const now = Date.now();
    expect((await sendStandard(orderPayload(), { at: new Date(now - 302_000) })).status).toBe(401);
    expect((await sendStandard(orderPayload(), { at: new Date(now + 302_000) })).status).toBe(401);
    expect((await sendStandard(orderPayload(), { at: new Date(now - 298_000) })).status).toBe(202);
  });

  it("rejects a signature made with another secret", async () => {
    const response = await sendStandard(orderPayload(), { secret: "whsec_d3JvbmctZGVmaW5pdGVseS13cm9uZy1zZWNyZXQ=" });
    expect(response.status).toBe(401);
  });

  it("refuses a payload that is not JSON with 400 after verifying it", async () => {
    const response = await sendStandard("not json at all");
    expect(response.status).toBe(400);
  });

  it("refuses an oversized body with 413 before any work, chunked without Content-Length too", async () => {
    const big = JSON.stringify({ type: "order.created", data: { padding: "x".repeat(300_000) } });
    expect((await sendStandard(big)).status).toBe(413);
    const encoder = new TextEncoder();
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let index = 0; index < 30; index++) controller.enqueue(encoder.encode("x".repeat(10_000)));
        controller.close();
      },
    });
    const chunked = await fetch(new URL("/v1/webhooks/orders", switchboard.url), {
      method: "POST",
      body: stream,
      duplex: "half",
      headers: { "webhook-id": "msg_chunked" },
    } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it("answers an unknown hook with 404", async () => {
    const response = await fetch(new URL("/v1/webhooks/nope", switchboard.url), { method: "POST", body: "{}" });
    expect(response.status).toBe(404);
  });
});

describe("failures", () => {
  it("retries a turn whose model call fails, then keeps an inspectable dead letter", async () => {
    const failing = reply.error(400, "model refused the request");
    switchboard.upstream.enqueue(...Array.from({ length: 10 }, () => failing));

    const ack = (await (await sendStandard(orderPayload("ord_dead"))).json()) as JsonObject;

    const letter = await eventually(async () => {
      const list = (await (await switchboard.request("/v1/webhooks/dead-letters", { headers: asWebhooksTenant })).json()) as { data: JsonObject[] };
      return list.data.find((entry) => entry.delivery_id === ack.id) ?? null;
    });
    expect(letter).toMatchObject({ kind: "turn", hook: "orders", conversation_id: ack.conversation_id, last_error: expect.stringContaining("model refused") });
    expect(switchboard.upstream.chatCalls).toHaveLength(5);
    const delivery = (await (
      await switchboard.request(`/v1/webhooks/orders/deliveries/${String(ack.id)}`, { headers: asWebhooksTenant })
    ).json()) as JsonObject;
    expect(delivery.state).toBe("dead");
    expect(await storedConversation(String(ack.conversation_id))).toBeNull();
  });

  it("shows dead letters only to the hook's tenant", async () => {
    const list = (await (await switchboard.request("/v1/webhooks/dead-letters")).json()) as { data: unknown[] };
    expect(list.data).toEqual([]);
  });
});
