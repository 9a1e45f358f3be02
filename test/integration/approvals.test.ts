// Human approval before a tool acts. The operator names the tools that wait for a person
// (APPROVAL_REQUIRED_TOOLS); a turn that asks for one parks in its conversation's home and continues
// once a person decides: through the Responses API's own items (driven by the official openai client
// and the OpenAI Agents SDK), or through the Approvals API for every door. The tool runs once, with
// the arguments that were approved, or never.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Agent, hostedMcpTool, OpenAIProvider, run, setDefaultModelProvider, setTracingDisabled } from "@openai/agents";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { eventually } from "./support/eventually.js";
import { HOOK_SECRETS, KEYS, useSwitchboard } from "./support/harness.js";
import type { JsonObject } from "./support/mock-upstream.js";
import { reply, toolCall } from "./support/mock-upstream.js";
import { sendStandardWebhook } from "./support/webhook-senders.js";

const switchboard = useSwitchboard({ vars: { APPROVAL_REQUIRED_TOOLS: "notes,get_current_weather", TOOL_TIMEOUT_MS: "5000" } });

interface ApprovalJson {
  id: string;
  status: string;
  tool: string;
  arguments: string;
  conversation_id: string;
  reason: string | null;
  continuation: { run_id: string; response_id: string | null } | null;
}

/** Every note with this text the notes tool Worker keeps for tenant A, read from its own KV. */
async function notesWithText(text: string): Promise<string[]> {
  const kv = await switchboard.miniflare.getKVNamespace("NOTES", "switchboard-tool-notes");
  const listed = await kv.list({ prefix: `notes/${encodeURIComponent("tenant-a")}/` });
  return listed.keys.filter((key) => (key.metadata as { preview?: string } | undefined)?.preview === text).map((key) => key.name);
}

const saveNote = (text: string) => reply.toolCalls(toolCall("notes", { action: "save", text }));

async function decide(id: string, body: JsonObject, key: string = KEYS.tenantA): Promise<Response> {
  return switchboard.request(`/v1/approvals/${id}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function chatTurn(content: string, conversationId?: string): Promise<{ status: number; body: JsonObject; conversation: string | null }> {
  const response = await switchboard.request("/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(conversationId ? { "X-Conversation-Id": conversationId } : {}) },
    body: JSON.stringify({ model: "gpt-5-mini", messages: [{ role: "user", content }] }),
  });
  return { status: response.status, body: (await response.json()) as JsonObject, conversation: response.headers.get("X-Conversation-Id") };
}

async function storedMessages(id: string): Promise<JsonObject[]> {
  const response = await switchboard.request(`/v1/conversations/${id}`);
  return ((await response.json()) as { messages: JsonObject[] }).messages;
}

/** The tool messages the model was sent in its last call. */
function lastToolMessages(): JsonObject[] {
  const messages = (switchboard.upstream.chatCalls.at(-1)?.body.messages as JsonObject[]) ?? [];
  return messages.filter((message) => message.role === "tool");
}

describe("the Responses door", () => {
  it("ends a turn whose notes save needs approval with an mcp_approval_request; approving with previous_response_id runs it once and answers", async () => {
    switchboard.upstream.enqueue(saveNote("buy milk"));

    const first = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "Remember to buy milk" });

    expect(first.status).toBe("completed");
    const request = first.output.at(-1) as unknown as { type: string; id: string; server_label: string; name: string; arguments: string };
    expect(request).toMatchObject({ type: "mcp_approval_request", server_label: "switchboard", name: "notes" });
    expect(JSON.parse(request.arguments)).toEqual({ action: "save", text: "buy milk" });
    expect(await notesWithText("buy milk")).toEqual([]);

    const second = await switchboard.openai.responses.create({
      model: "gpt-5-mini",
      previous_response_id: first.id,
      input: [{ type: "mcp_approval_response", approval_request_id: request.id, approve: true }],
    });

    expect(second.status).toBe("completed");
    expect(second.output.map((item) => item.type)).toEqual(["mcp_call", "message"]);
    expect(second.output[0]).toMatchObject({ type: "mcp_call", name: "notes", error: null });
    expect(second.output_text).toContain("From the tools");
    expect(await notesWithText("buy milk")).toHaveLength(1);
    const approval = (await (await switchboard.request(`/v1/approvals/${request.id}`)).json()) as ApprovalJson;
    expect(approval).toMatchObject({ status: "approved", tool: "notes", continuation: { response_id: second.id } });

    // The same decision again is not a second run.
    const again = await switchboard.openai.responses
      .create({
        model: "gpt-5-mini",
        previous_response_id: first.id,
        input: [{ type: "mcp_approval_response", approval_request_id: request.id, approve: true }],
      })
      .catch((error: unknown) => error);
    expect(again).toMatchObject({ status: 409 });
    expect(await notesWithText("buy milk")).toHaveLength(1);
  });

  it("never runs a denied call, and tells the model it was denied and why", async () => {
    switchboard.upstream.enqueue(saveNote("sell the car"));
    const first = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "Note that I sell the car" });
    const request = first.output.at(-1) as unknown as { id: string };

    const second = await switchboard.openai.responses.create({
      model: "gpt-5-mini",
      previous_response_id: first.id,
      input: [{ type: "mcp_approval_response", approval_request_id: request.id, approve: false, reason: "not my car" }],
    });

    expect(await notesWithText("sell the car")).toEqual([]);
    expect(second.output[0]).toMatchObject({ type: "mcp_call", name: "notes" });
    expect((second.output[0] as unknown as { error: string }).error).toContain("not my car");
    const [told] = lastToolMessages();
    expect(JSON.parse(String(told?.content))).toMatchObject({ error: { type: "approval_denied" } });
    expect(String(told?.content)).toContain("not my car");
  });

  it("refuses an approval response for a request that is not the previous response's, naming it", async () => {
    switchboard.upstream.enqueue(reply.text("Nothing to approve."));
    const plain = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "hi" });
    const forged = `apr_${"0".repeat(64)}${"A".repeat(16)}`;

    const refused = await switchboard.openai.responses
      .create({ model: "gpt-5-mini", previous_response_id: plain.id, input: [{ type: "mcp_approval_response", approval_request_id: forged, approve: true }] })
      .catch((error: unknown) => error);

    expect(refused).toMatchObject({ status: 400, param: "input[0].approval_request_id" });
  });

  it("accepts hosted mcp tools: require_approval always on Switchboard's own tools parks a tool the operator lets run", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_time", { timezone: "UTC" })));
    const first = await switchboard.openai.responses.create({
      model: "gpt-5-mini",
      input: "What time is it?",
      tools: [{ type: "mcp", server_label: "switchboard", allowed_tools: ["get_current_time"], require_approval: "always" }],
    });
    expect(first.output.at(-1)).toMatchObject({ type: "mcp_approval_request", name: "get_current_time" });
    // Only the selected tools were offered.
    const offered = ((switchboard.upstream.chatCalls[0]?.body.tools ?? []) as Array<{ function: { name: string } }>).map((tool) => tool.function.name);
    expect(offered).toEqual(["get_current_time"]);

    const elsewhere = await switchboard.openai.responses
      .create({ model: "gpt-5-mini", input: "hi", tools: [{ type: "mcp", server_label: "x", server_url: "https://evil.example/mcp" }] })
      .catch((error: unknown) => error);
    expect(elsewhere).toMatchObject({ status: 400, param: "tools[0].server_url" });
  });
});

describe("the OpenAI Agents SDK", () => {
  it("hostedMcpTool with requireApproval always: the approval is an interruption; approve, run again, final output", async () => {
    setTracingDisabled(true);
    setDefaultModelProvider(new OpenAIProvider({ baseURL: new URL("/v1", switchboard.url).href, apiKey: KEYS.tenantA, useResponses: true }));
    const agent = new Agent({
      name: "Assistant",
      instructions: "Use the tools.",
      model: "gpt-5-mini",
      tools: [hostedMcpTool({ serverLabel: "switchboard", requireApproval: "always" })],
    });
    switchboard.upstream.enqueue(saveNote("agents sdk note"));

    const result = await run(agent, "Remember: agents sdk note");

    expect(result.interruptions).toHaveLength(1);
    const [interruption] = result.interruptions;
    expect(interruption?.name).toBe("notes");
    expect(await notesWithText("agents sdk note")).toEqual([]);
    result.state.approve(interruption!);
    const resumed = await run(agent, result.state);

    expect(resumed.interruptions ?? []).toHaveLength(0);
    expect(String(resumed.finalOutput)).toContain("From the tools");
    expect(await notesWithText("agents sdk note")).toHaveLength(1);
  });

  it("a rejected interruption never runs the tool", async () => {
    const agent = new Agent({ name: "Assistant", model: "gpt-5-mini", tools: [hostedMcpTool({ serverLabel: "switchboard", requireApproval: "always" })] });
    switchboard.upstream.enqueue(saveNote("rejected sdk note"), reply.text("Understood, I did not save it."));

    const result = await run(agent, "Remember: rejected sdk note");
    result.state.reject(result.interruptions[0]!);
    const resumed = await run(agent, result.state);

    expect(resumed.finalOutput).toBe("Understood, I did not save it.");
    expect(await notesWithText("rejected sdk note")).toEqual([]);
  });
});

describe("the Approvals API and the chat door", () => {
  it("lists, decides and continues a parked chat turn; a second decision is 409 with the first; another tenant gets 404", async () => {
    switchboard.upstream.enqueue(saveNote("call mom"));
    const turn = await chatTurn("Remind me to call mom");

    expect(turn.status).toBe(200);
    const choice = (turn.body.choices as JsonObject[])[0] as { finish_reason: string; message: { content: string; tool_calls?: unknown } };
    expect(choice.finish_reason).toBe("stop");
    expect(choice.message.tool_calls).toBeUndefined();
    const [pending] = turn.body.pending_approvals as ApprovalJson[];
    expect(pending).toMatchObject({ status: "pending", tool: "notes" });
    expect(choice.message.content).toContain(pending!.id);

    const listed = (await (await switchboard.request("/v1/approvals?status=pending")).json()) as { data: ApprovalJson[] };
    expect(listed.data.map((approval) => approval.id)).toContain(pending!.id);
    const otherTenant = await switchboard.request(`/v1/approvals/${pending!.id}`, { headers: { Authorization: `Bearer ${KEYS.tenantB}` } });
    expect(otherTenant.status).toBe(404);
    expect((await decide(pending!.id, { approve: true }, KEYS.tenantB)).status).toBe(404);
    const listedB = (await (await switchboard.request("/v1/approvals", { headers: { Authorization: `Bearer ${KEYS.tenantB}` } })).json()) as {
      data: unknown[];
    };
    expect(listedB.data).toEqual([]);

    // While it waits, the conversation takes no other turn.
    const blocked = await chatTurn("something else", turn.conversation!);
    expect(blocked.status).toBe(409);
    expect(blocked.body).toMatchObject({ error: { code: "approval_pending" } });

    const decided = await decide(pending!.id, { approve: true });
    expect(decided.status).toBe(200);
    expect(await decided.json()).toMatchObject({ id: pending!.id, status: "approved" });
    const second = await decide(pending!.id, { approve: false });
    expect(second.status).toBe(409);
    expect(await second.json()).toMatchObject({ error: { code: "approval_already_decided" }, approval: { status: "approved" } });

    const messages = await eventually(async () => {
      const stored = await storedMessages(turn.conversation!);
      return stored.at(-1)?.role === "assistant" && String(stored.at(-1)?.content).startsWith("From the tools") ? stored : null;
    });
    expect(messages.map((message) => message.role)).toEqual(["user", "assistant", "tool", "assistant"]);
    expect(await notesWithText("call mom")).toHaveLength(1);

    // A client that resends its whole history (the notice it was shown included) goes on in the same conversation.
    switchboard.upstream.enqueue(reply.text("You're welcome."));
    const resent = await switchboard.request("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Conversation-Id": turn.conversation! },
      body: JSON.stringify({
        model: "gpt-5-mini",
        messages: [
          { role: "user", content: "Remind me to call mom" },
          { role: "assistant", content: choice.message.content },
          { role: "user", content: "thanks" },
        ],
      }),
    });
    expect(resent.status).toBe(200);
    expect((await storedMessages(turn.conversation!)).map((message) => message.role)).toEqual(["user", "assistant", "tool", "assistant", "user", "assistant"]);
  });

  it("refuses a turn that keeps nothing when a call needs approval, before any call of the step runs", async () => {
    switchboard.upstream.enqueue(
      reply.toolCalls(toolCall("get_current_time", { timezone: "UTC" }), toolCall("notes", { action: "save", text: "never stored" })),
    );
    const refused = await switchboard.openai.responses.create({ model: "gpt-5-mini", input: "time and a note", store: false }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 400, param: "store", code: "approval_requires_store" });
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
    expect(await notesWithText("never stored")).toEqual([]);
  });

  it("two concurrent approvals of one id: one 200, one 409, one tool run", async () => {
    switchboard.upstream.enqueue(saveNote("race note"));
    const turn = await chatTurn("Remember: race note");
    const [pending] = turn.body.pending_approvals as ApprovalJson[];

    const answers = await Promise.all([decide(pending!.id, { approve: true }), decide(pending!.id, { approve: true })]);

    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
    await eventually(async () => ((await notesWithText("race note")).length > 0 ? true : null));
    await eventually(async () => ((await storedMessages(turn.conversation!)).length === 4 ? true : null));
    expect(await notesWithText("race note")).toHaveLength(1);
  });

  it("forged and malformed ids are 404 without saying which", async () => {
    const forged = await switchboard.request(`/v1/approvals/apr_${"a".repeat(64)}${"B".repeat(16)}`);
    const malformed = await switchboard.request("/v1/approvals/nope");
    expect([forged.status, malformed.status]).toEqual([404, 404]);
    expect((await decide("nope", { approve: true })).status).toBe(404);
    const bad = await decide(`apr_${"a".repeat(64)}${"B".repeat(16)}`, { approve: "yes" });
    expect(bad.status).toBe(400);
  });
});

describe("the MCP door", () => {
  it("does not run a tools/call that needs approval: a tool error names the pending approval; approved, the same call runs once", async () => {
    const client = new Client({ name: "approvals-test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL("/mcp", switchboard.url), { requestInit: { headers: { Authorization: `Bearer ${KEYS.tenantA}` } } }),
    );
    try {
      const call = () => client.callTool({ name: "notes", arguments: { action: "save", text: "mcp approved note" } });
      const held = await call();
      expect(held.isError).toBe(true);
      const text = (held.content as Array<{ text: string }>)[0]!.text;
      const id = /apr_[0-9a-f]{64}[A-Za-z0-9]{16}/.exec(text)?.[0];
      expect(id).toBeDefined();
      expect(await notesWithText("mcp approved note")).toEqual([]);
      // Asking again before anyone decided names the same approval, and still runs nothing.
      const again = await call();
      expect((again.content as Array<{ text: string }>)[0]!.text).toContain(id);

      expect((await decide(id!, { approve: true })).status).toBe(200);
      const ran = await call();
      expect(ran.isError).toBe(false);
      expect(await notesWithText("mcp approved note")).toHaveLength(1);
      // One approval allows one run: the next call waits for a new decision.
      const next = await call();
      expect(next.isError).toBe(true);
      expect((next.content as Array<{ text: string }>)[0]!.text).not.toContain(id);
      expect(await notesWithText("mcp approved note")).toHaveLength(1);
    } finally {
      await client.close();
    }
  });
});

describe("webhook turns", () => {
  it("park on a tool that needs approval, and the signed callback carries the answer once it is approved", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", { location: "Paris, France" })), reply.text("Sunny in Paris: no delay."));

    const response = await sendStandardWebhook(
      switchboard.url,
      JSON.stringify({ type: "order.created", data: { id: "ord_approve", total: 10, currency: "EUR", city: "Paris, France" } }),
    );
    expect(response.status).toBe(202);
    const asWebhooks = { Authorization: `Bearer ${KEYS.webhooks}` };
    const pending = await eventually(async () => {
      const listed = (await (await switchboard.request("/v1/approvals?status=pending", { headers: asWebhooks })).json()) as { data: ApprovalJson[] };
      return listed.data[0] ?? null;
    });
    expect(pending.tool).toBe("get_current_weather");
    expect(switchboard.upstream.openMeteoCalls).toEqual([]);
    expect(switchboard.upstream.callbacks).toEqual([]);

    const decided = await decide(pending.id, { approve: true }, KEYS.webhooks);
    expect(decided.status).toBe(200);

    const callback = await eventually(async () => switchboard.upstream.callbacks[0] ?? null);
    const verified = new Webhook(HOOK_SECRETS.ordersCallback).verify(callback.body, Object.fromEntries(callback.headers)) as JsonObject;
    expect(verified).toMatchObject({ type: "switchboard.turn.completed", data: { hook: "orders", answer: "Sunny in Paris: no delay." } });
    expect(switchboard.upstream.openMeteoCalls.length).toBeGreaterThan(0);
  });
});

describe("expiry", () => {
  it("an approval nobody decides in time counts as denied: 409 approval_expired, and the turn continues without the tool", async () => {
    const { startSwitchboard } = await import("./support/harness.js");
    const short = await startSwitchboard({ vars: { APPROVAL_REQUIRED_TOOLS: "notes", APPROVAL_TTL_SECONDS: "1" } });
    try {
      short.upstream.enqueue(saveNote("too late"), reply.text("Nobody approved it, so I did not save it."));
      const response = await short.request("/v1/chat/completions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ model: "gpt-5-mini", messages: [{ role: "user", content: "Remember: too late" }] }),
      });
      const body = (await response.json()) as { pending_approvals: ApprovalJson[] };
      const conversation = response.headers.get("X-Conversation-Id") as string;
      const [pending] = body.pending_approvals;

      const expired = await eventually(async () => {
        const answer = await short.request(`/v1/approvals/${pending!.id}`);
        const approval = (await answer.json()) as ApprovalJson;
        return approval.status === "expired" ? approval : null;
      });
      expect(expired.reason).toBe("expired");
      const late = await short.request(`/v1/approvals/${pending!.id}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ approve: true }),
      });
      expect(late.status).toBe(409);
      expect(await late.json()).toMatchObject({ error: { code: "approval_expired" } });
      const messages = await eventually(async () => {
        const stored = (await (await short.request(`/v1/conversations/${conversation}`)).json()) as { messages: JsonObject[] };
        return stored.messages.at(-1)?.content === "Nobody approved it, so I did not save it." ? stored.messages : null;
      }, 20_000);
      expect(JSON.parse(String(messages[2]?.content))).toMatchObject({ error: { type: "approval_expired" } });
    } finally {
      await short.dispose();
    }
  });
});
