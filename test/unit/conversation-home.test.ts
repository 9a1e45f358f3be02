// A conversation's one home (src/conversations/home.ts) as clients meet it through the app: one turn
// at a time and never a fork, everything a turn produces committed together or not at all, a
// streamed turn the client saw kept even when its first commit fails, listing and deleting exact,
// and turns answered while KV is down.

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { ConversationHome, WRITE_BEHIND_MS } from "../../src/conversations/home.js";
import { homeId } from "../../src/conversations/names.js";
import type { RescueJob } from "../../src/conversations/rescue.js";
import type { TurnRecord } from "../../src/conversations/turns.js";
import type { Env } from "../../src/env.js";
import { claimKey } from "../../src/ledger/claims.js";
import { sha256Hex } from "../../src/lib/hash.js";
import { handleWebhookBatch } from "../../src/webhooks/consumer.js";
import type { TestEnv } from "./support/app.js";
import { appRequests, CLIENT_KEY, executionContext, testEnv, useAppHooks } from "./support/app.js";

const ENV = env as unknown as Env;
const TENANT = "unit";
const { call, settle } = appRequests();

const post = (path: string, body: unknown, headers: Record<string, string> = {}, environment?: TestEnv) =>
  call(path, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body) }, environment);

const chat = (body: unknown, headers: Record<string, string> = {}, environment?: TestEnv) => post("/v1/chat/completions", body, headers, environment);

async function storedTurns(id: string): Promise<Array<{ id: string; incomplete: boolean; started_at: number }> | null> {
  const response = await call(`/v1/conversations/${id}`);
  if (response.status === 404) return null;
  return ((await response.json()) as { turns: Array<{ id: string; incomplete: boolean; started_at: number }> }).turns;
}

async function listedIds(): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const response = await call(`/v1/conversations?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    const page = (await response.json()) as { data: Array<{ id: string }>; next_cursor: string | null };
    ids.push(...page.data.map((entry) => entry.id));
    cursor = page.next_cursor;
  } while (cursor);
  return ids;
}

/** The Worker's own queue binding (the home sends on it), its messages kept here instead. */
function captureQueue(sent: RescueJob[]): void {
  vi.spyOn(ENV.WEBHOOK_QUEUE, "send").mockImplementation(async (job: unknown) => {
    sent.push(job as RescueJob);
    return {} as QueueSendResponse;
  });
}

const home = (id: string) => ENV.CONVERSATION_HOME.get(homeId(ENV, TENANT, id));

/** The home's alarm, run as if the copy it waits to write were due now (the test does not wait a second). */
async function writeBehindNow(id: string): Promise<void> {
  await runInDurableObject(home(id), (_instance, state) => {
    state.storage.sql.exec("UPDATE home SET write_due = ? WHERE write_due IS NOT NULL", Date.now() - 1);
  });
  await runDurableObjectAlarm(home(id));
}

useAppHooks(settle);

describe("one turn at a time", () => {
  it("never forks under a burst of 40 turns, refuses the overflow with 409 conversation_busy and Retry-After, and stays usable", async () => {
    const id = "conv_burst";
    expect((await chat({ conversation_id: id, messages: [{ role: "user", content: "first" }] })).status).toBe(200);
    const burst = await Promise.all(
      Array.from({ length: 40 }, (_, index) => chat({ conversation_id: id, messages: [{ role: "user", content: `burst ${index}` }] })),
    );
    const answered: string[] = [];
    for (const [index, response] of burst.entries()) {
      if (response.status === 200) {
        answered.push(`burst ${index}`);
        continue;
      }
      expect(response.status).toBe(409);
      expect(response.headers.get("Retry-After")).toMatch(/^\d+$/);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("conversation_busy");
    }
    for (const text of ["after 1", "after 2", "after 3"]) {
      expect((await chat({ conversation_id: id, messages: [{ role: "user", content: text }] })).status).toBe(200);
    }
    const conversation = (await (await call(`/v1/conversations/${id}`)).json()) as { messages: Array<{ role: string; content: string }>; turns: unknown[] };
    // Linear: user, assistant, user, assistant, ... each turn after the one before.
    expect(conversation.messages.map((message) => message.role)).toEqual(conversation.messages.map((_, index) => (index % 2 === 0 ? "user" : "assistant")));
    const asked = conversation.messages.filter((message) => message.role === "user").map((message) => message.content);
    expect(asked).toHaveLength(1 + answered.length + 3);
    expect(new Set(asked)).toEqual(new Set(["first", ...answered, "after 1", "after 2", "after 3"]));
    expect(asked.slice(-3)).toEqual(["after 1", "after 2", "after 3"]);
  });

  it("lets a waiting turn go once the one ahead of it commits, and it sees that turn's history", async () => {
    const id = "conv_queue";
    const first = await home(id).begin({ tenant: TENANT, conversationId: id, fresh: false, waitMs: 10_000 });
    if (first.status !== "ready") throw new Error(`expected a lease, got ${first.status}`);
    const second = chat({ conversation_id: id, messages: [{ role: "user", content: "second" }] });
    const turn: TurnRecord = {
      id: "turn_first",
      started_at: Date.now(),
      completed_at: Date.now(),
      incomplete: false,
      messages: [
        { role: "user", content: "first" },
        { role: "assistant", content: "one" },
      ],
    };
    await home(id).commit(first.token, { turn, products: {}, maxBytes: 1_000_000, ttlSeconds: 3600 });
    expect((await second).status).toBe(200);
    const conversation = (await (await call(`/v1/conversations/${id}`)).json()) as { messages: Array<{ content: string }> };
    expect(conversation.messages.map((message) => message.content).slice(0, 3)).toEqual(["first", "one", "second"]);
  });

  it("frees the conversation when a Worker died holding it: its lease runs out", async () => {
    const id = "conv_crashed";
    const dead = await home(id).begin({ tenant: TENANT, conversationId: id, fresh: false, waitMs: 10_000 });
    expect(dead.status).toBe("ready");
    // The holder never commits nor renews; time passes beyond its lease.
    await runInDurableObject(home(id), (_instance, state) => {
      state.storage.sql.exec("UPDATE home SET lease_until = ?", Date.now() - 1);
    });
    await runDurableObjectAlarm(home(id));
    expect((await chat({ conversation_id: id, messages: [{ role: "user", content: "after the crash" }] })).status).toBe(200);
    expect(await storedTurns(id)).toHaveLength(1);
  });
  it("hands the conversation to a turn waiting behind a dead holder as soon as that lease runs out", async () => {
    const id = "conv_dead_holder";
    const dead = await home(id).begin({ tenant: TENANT, conversationId: id, fresh: false, waitMs: 10_000 });
    expect(dead.status).toBe("ready");
    await runInDurableObject(home(id), (_instance, state) => {
      state.storage.sql.exec("UPDATE home SET lease_until = ?", Date.now() + 100);
    });
    const waiting = await chat({ conversation_id: id, messages: [{ role: "user", content: "behind a dead holder" }] });
    expect(waiting.status).toBe(200);
    expect(await storedTurns(id)).toHaveLength(1);
  });
});

describe("one commit for everything a turn produces", () => {
  it("stores neither the turn nor its response when the commit fails half-way, and a retry with the same Idempotency-Key stores both once", async () => {
    const write = vi.spyOn(ConversationHome.prototype as unknown as { writeProducts: () => void }, "writeProducts");
    write.mockImplementationOnce(() => {
      throw new Error("injected: storage failed after the turn, before the response object");
    });
    const headers = { "Idempotency-Key": "half-way-1" };
    const failed = await post("/v1/responses", { input: "remember this" }, headers);
    expect(failed.status).toBe(500);
    expect(((await failed.json()) as { error: { type: string } }).error.type).toBe("server_error");
    const conversationId = failed.headers.get("X-Conversation-Id");
    expect(conversationId).toMatch(/^conv_/);
    await settle();
    expect(await storedTurns(conversationId!)).toBeNull();

    const retried = await post("/v1/responses", { input: "remember this" }, headers);
    expect(retried.status).toBe(200);
    const response = (await retried.json()) as { id: string };
    expect((await call(`/v1/responses/${response.id}`)).status).toBe(200);
    expect(await storedTurns(conversationId!)).toHaveLength(1);
    const replayed = await post("/v1/responses", { input: "remember this" }, headers);
    expect(replayed.headers.get("Idempotent-Replayed")).toBe("true");
    expect(((await replayed.json()) as { id: string }).id).toBe(response.id);
    expect(await storedTurns(conversationId!)).toHaveLength(1);
  });

  it("replays an Idempotency-Key's answer from the conversation when the claim lost it after the commit", async () => {
    const headers = { "Idempotency-Key": "lost-settle-1" };
    const first = await chat({ messages: [{ role: "user", content: "once" }] }, headers);
    expect(first.status).toBe(200);
    const answer = (await first.json()) as { id: string; conversation_id: string };
    await settle();
    // The ledger loses the key's record (as when its settle never landed and the lease ran out).
    const claim = claimKey("idempotency", TENANT, await sha256Hex(`${TENANT}\nlost-settle-1`));
    await runInDurableObject(ENV.LEDGER.get(ENV.LEDGER.idFromName(claim)), (_instance, state) => {
      state.storage.sql.exec("DELETE FROM claims");
    });
    const again = await chat({ messages: [{ role: "user", content: "once" }] }, headers);
    expect(again.status).toBe(200);
    expect(again.headers.get("Idempotent-Replayed")).toBe("true");
    expect(((await again.json()) as { id: string }).id).toBe(answer.id);
    expect(await storedTurns(answer.conversation_id)).toHaveLength(1);
  });
});

describe("a streamed turn the client has read", () => {
  it("is in the history even when its first commit attempt fails", async () => {
    const commit = vi.spyOn(ConversationHome.prototype, "commit");
    commit.mockImplementationOnce(async () => {
      throw new Error("injected: the home could not take the commit");
    });
    const response = await chat({ stream: true, messages: [{ role: "user", content: "stream it" }] });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain("data: [DONE]");
    const id = response.headers.get("X-Conversation-Id")!;
    await settle();
    const turns = await storedTurns(id);
    expect(turns).toHaveLength(1);
    expect(turns![0]!.incomplete).toBe(false);
  });

  it("is rescued through the queue when the home keeps refusing, and committed once it can", async () => {
    const commit = vi.spyOn(ConversationHome.prototype, "commit");
    commit.mockImplementation(async () => {
      throw new Error("injected: the home is unreachable");
    });
    const sent: RescueJob[] = [];
    // The turn runs in its home, which sends the rescue job on the Worker's own queue binding.
    captureQueue(sent);
    const environment = testEnv();
    const response = await chat({ stream: true, messages: [{ role: "user", content: "keep me" }] }, {}, environment);
    expect(await response.text()).toContain("data: [DONE]");
    await settle();
    expect(sent).toHaveLength(1);
    const id = response.headers.get("X-Conversation-Id")!;
    commit.mockRestore();
    expect(await storedTurns(id)).toBeNull();

    const acked: string[] = [];
    const message = { body: sent[0]!, attempts: 1, ack: () => acked.push("ack"), retry: () => acked.push("retry") };
    const batch = { queue: "switchboard-webhooks", messages: [message, { ...message }] } as unknown as MessageBatch<RescueJob>;
    await handleWebhookBatch(batch, environment, executionContext().ctx);
    expect(acked).toEqual(["ack", "ack"]);
    const turns = await storedTurns(id);
    expect(turns).toHaveLength(1);
  });
});

describe("listing and deleting", () => {
  it("lists a conversation on the request after its first turn, and never again once it is deleted", async () => {
    const first = await chat({ messages: [{ role: "user", content: "list me" }] });
    const { conversation_id: id } = (await first.json()) as { conversation_id: string };
    expect(await listedIds()).toContain(id);

    expect((await call(`/v1/conversations/${id}`, { method: "DELETE" })).status).toBe(200);
    expect(await listedIds()).not.toContain(id);
    // Nothing written behind brings it back: the alarm finds a tombstone.
    await runDurableObjectAlarm(home(id));
    expect(await listedIds()).not.toContain(id);
    expect(await ENV.CONVERSATIONS.get(`conversation/${TENANT}/${id}`)).toBeNull();
    expect(await storedTurns(id)).toBeNull();
  });

  it("lists a just-answered conversation even while KV's listing lags behind its writes, as it does across locations for a minute", async () => {
    const real = ENV.CONVERSATIONS;
    // A KV whose list does not show a key written in the last minute (as KV's list may not, from
    // another location): whatever wrote it, its metadata says when.
    const lagging = new Proxy(real, {
      get(target, property) {
        if (property === "list")
          return async (options: KVNamespaceListOptions) => {
            const page = await target.list<{ updated_at?: number }>(options);
            return { ...page, keys: page.keys.filter((key) => (key.metadata?.updated_at ?? 0) < Date.now() - 60_000) };
          };
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const environment = testEnv({ CONVERSATIONS: lagging });
    const first = await chat({ messages: [{ role: "user", content: "list me at once" }] }, {}, environment);
    const { conversation_id: id } = (await first.json()) as { conversation_id: string };
    const page = (await (await call("/v1/conversations?limit=100", {}, environment)).json()) as { data: Array<{ id: string }> };
    expect(page.data.map((entry) => entry.id)).toContain(id);
  });

  it("answers 404 to every later read and turn of a deleted conversation", async () => {
    const id = "conv_deleted";
    expect((await chat({ conversation_id: id, messages: [{ role: "user", content: "hi" }] })).status).toBe(200);
    expect((await call(`/v1/conversations/${id}`, { method: "DELETE" })).status).toBe(200);
    const turn = await chat({ conversation_id: id, messages: [{ role: "user", content: "again" }] });
    expect(turn.status).toBe(404);
    expect(((await turn.json()) as { error: { code: string } }).error.code).toBe("conversation_not_found");
    expect((await call(`/v1/conversations/${id}`)).status).toBe(404);
    expect((await call(`/v1/conversations/${id}`, { method: "DELETE" })).status).toBe(404);
  });

  it("does not list a conversation whose only turn failed", async () => {
    vi.mocked(globalThis.fetch).mockResolvedValueOnce(Response.json({ error: { message: "upstream is down", type: "server_error" } }, { status: 500 }));
    const failing = await chat({ conversation_id: "conv_never", messages: [{ role: "user", content: "x" }] });
    expect(failing.status).toBe(502);
    await settle();
    expect(await listedIds()).not.toContain("conv_never");
  });

  it("pages through many conversations without losing or repeating one", async () => {
    const ids = ["conv_page_a", "conv_page_b", "conv_page_c", "conv_page_d", "conv_page_e"];
    for (const id of ids) await chat({ conversation_id: id, messages: [{ role: "user", content: id }] });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = (await (await call(`/v1/conversations?limit=2${cursor ? `&cursor=${cursor}` : ""}`)).json()) as {
        data: Array<{ id: string; title: string; turn_count: number }>;
        next_cursor: string | null;
      };
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((entry) => entry.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(ids);
    const bad = await call("/v1/conversations?cursor=not-a-cursor");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_cursor");
  });
});

describe("the KV copy", () => {
  it("is written once for a batch of turns, a second after the first commit, not at once", async () => {
    const id = "conv_batched";
    const put = vi.spyOn(ENV.CONVERSATIONS, "put");
    const before = Date.now();
    for (const text of ["one", "two", "three"]) await chat({ conversation_id: id, messages: [{ role: "user", content: text }] });
    const alarm = await runInDurableObject(home(id), (_instance, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThanOrEqual(before + WRITE_BEHIND_MS);
    expect(put).not.toHaveBeenCalled();
    await writeBehindNow(id);
    expect(put).toHaveBeenCalledTimes(1);
    const copy = await ENV.CONVERSATIONS.get<{ turns: unknown[] }>(`conversation/${TENANT}/${id}`, "json");
    expect(copy?.turns).toHaveLength(3);
  });

  it("brings a home whose storage is gone back from KV", async () => {
    const id = "conv_rehydrated";
    await chat({ conversation_id: id, messages: [{ role: "user", content: "before" }] });
    await writeBehindNow(id);
    await runInDurableObject(home(id), async (instance, state) => {
      await state.storage.deleteAll();
      // What a new instance does on its first call.
      (instance as unknown as { createTables(): void }).createTables();
    });
    const next = await chat({ conversation_id: id, messages: [{ role: "user", content: "after" }] });
    expect(next.status).toBe(200);
    expect(await storedTurns(id)).toHaveLength(2);
  });

  it("takes in a conversation stored before homes, from its snapshot keys", async () => {
    const id = "conv_legacy";
    const turn: TurnRecord = {
      id: "turn_old",
      started_at: 1,
      completed_at: 2,
      incomplete: false,
      messages: [
        { role: "user", content: "old" },
        { role: "assistant", content: "answer" },
      ],
    };
    await ENV.CONVERSATIONS.put(`conversations/${TENANT}/${id}/000000000000001-turn_old`, JSON.stringify({ conversation_id: id, turns: [turn] }), {
      metadata: { parents: [] },
    });
    const turns = await storedTurns(id);
    expect(turns?.map((each) => each.id)).toEqual(["turn_old"]);
  });

  it("does not hold up a turn while KV is down: the answer, the next turn and the read all go on", async () => {
    vi.spyOn(ENV.CONVERSATIONS, "put").mockImplementation(() => new Promise(() => undefined));
    const first = await chat({ messages: [{ role: "user", content: "hello" }] });
    expect(first.status).toBe(200);
    const id = ((await first.json()) as { conversation_id: string }).conversation_id;
    expect((await chat({ conversation_id: id, messages: [{ role: "user", content: "and again" }] })).status).toBe(200);
    expect(await storedTurns(id)).toHaveLength(2);
    const answered = await post("/v1/responses", { input: "hello" });
    const { id: responseId } = (await answered.json()) as { id: string };
    const continued = await post("/v1/responses", { input: "and again", previous_response_id: responseId });
    expect(continued.status).toBe(200);
  });
});

describe("sizes", () => {
  it("gives up the oldest turns' traces before refusing a turn, and refuses one whose messages alone do not fit", async () => {
    // The size rule lives in the home's commit; driven directly, with the limit a deployment would set.
    const id = "conv_full";
    const stub = home(id);
    const big = "x".repeat(1_500);
    const turn = (index: number, content: string): TurnRecord => ({
      id: `turn_${index}`,
      started_at: index,
      completed_at: index + 1,
      incomplete: false,
      messages: [
        { role: "user", content },
        { role: "assistant", content: "ok" },
      ],
      trace: { trace_id: "t".repeat(32), parent_span_id: null, spans: [{ name: "turn", note: big }] } as unknown as TurnRecord["trace"],
    });
    const commit = async (record: TurnRecord) => {
      const lease = await stub.begin({ tenant: TENANT, conversationId: id, fresh: false, waitMs: 0 });
      if (lease.status !== "ready") throw new Error(`no lease: ${lease.status}`);
      const outcome = await stub.commit(lease.token, { turn: record, products: {}, maxBytes: 9_000, ttlSeconds: 3600 });
      if (outcome.status !== "ok") await stub.release(lease.token);
      return outcome;
    };
    for (let index = 0; index < 3; index++) expect(await commit(turn(index, `${index} ${big}`))).toEqual({ status: "ok" });
    const stored = (await (await call(`/v1/conversations/${id}`)).json()) as { turns: Array<{ trace: unknown }> };
    expect(stored.turns[0]!.trace).toBeNull();
    expect(stored.turns.at(-1)!.trace).not.toBeNull();
    expect(await commit(turn(3, "y".repeat(9_000)))).toMatchObject({ status: "too_large" });
    expect((await storedTurns(id))!.length).toBe(3);
  });
});

describe("names", () => {
  it("keeps tenants apart: another tenant's response id and conversation id find nothing", async () => {
    const answered = await post("/v1/responses", { input: "mine" });
    const { id } = (await answered.json()) as { id: string };
    const conversation = answered.headers.get("X-Conversation-Id")!;
    const other = testEnv({ SWITCHBOARD_API_KEYS: `unit:${CLIENT_KEY},other:sk-other-tenant` });
    const asOther = { Authorization: "Bearer sk-other-tenant" };
    expect((await call(`/v1/responses/${id}`, { headers: asOther }, other)).status).toBe(404);
    expect((await call(`/v1/conversations/${conversation}`, { headers: asOther }, other)).status).toBe(404);
    expect((await call(`/v1/responses/resp_${"f".repeat(64)}${"A".repeat(16)}`)).status).toBe(404);
    expect((await call("/v1/responses/resp_not!valid")).status).toBe(400);
  });
});

describe("races and faults found in review", () => {
  it("runs two concurrent first turns on a new named conversation one after the other: both answered, both stored", async () => {
    const id = "conv_two_firsts";
    const [one, two] = await Promise.all([
      chat({ conversation_id: id, messages: [{ role: "user", content: "one" }] }),
      chat({ conversation_id: id, messages: [{ role: "user", content: "two" }] }),
    ]);
    expect([one.status, two.status]).toEqual([200, 200]);
    expect(await storedTurns(id)).toHaveLength(2);
  });

  it("commits a rescued first turn even when a listing emptied its home in between", async () => {
    const commit = vi.spyOn(ConversationHome.prototype, "commit");
    commit.mockImplementation(async () => {
      throw new Error("injected: the home is unreachable");
    });
    const sent: RescueJob[] = [];
    captureQueue(sent);
    const environment = testEnv();
    const response = await chat({ stream: true, messages: [{ role: "user", content: "rescue me" }] }, {}, environment);
    expect(await response.text()).toContain("data: [DONE]");
    await settle();
    commit.mockRestore();
    await listedIds();
    const message = { body: sent[0]!, attempts: 1, ack: () => undefined, retry: () => undefined };
    await handleWebhookBatch({ queue: "switchboard-webhooks", messages: [message] } as unknown as MessageBatch<RescueJob>, environment, executionContext().ctx);
    expect(await storedTurns(response.headers.get("X-Conversation-Id")!)).toHaveLength(1);
  });

  it("writes nothing behind a tombstone: a deleted conversation's due copy never lists it again", async () => {
    const id = "conv_tombstone_due";
    await chat({ conversation_id: id, messages: [{ role: "user", content: "hi" }] });
    expect((await call(`/v1/conversations/${id}`, { method: "DELETE" })).status).toBe(200);
    await writeBehindNow(id);
    await runInDurableObject(home(id), (_instance, state) => {
      state.storage.sql.exec("UPDATE home SET write_due = ?", Date.now() - 1);
    });
    await runDurableObjectAlarm(home(id));
    expect(await listedIds()).not.toContain(id);
    expect(await ENV.CONVERSATIONS.get(`conversation/${TENANT}/${id}`)).toBeNull();
  });

  it("starts a named conversation and deletes one while KV refuses reads and deletes", async () => {
    vi.spyOn(ENV.CONVERSATIONS, "getWithMetadata").mockRejectedValue(new Error("KV is down"));
    vi.spyOn(ENV.CONVERSATIONS, "list").mockRejectedValue(new Error("KV is down"));
    vi.spyOn(ENV.CONVERSATIONS, "delete").mockRejectedValue(new Error("KV is down"));
    const id = "conv_kv_down";
    expect((await chat({ conversation_id: id, messages: [{ role: "user", content: "hi" }] })).status).toBe(200);
    expect((await call(`/v1/conversations/${id}`, { method: "DELETE" })).status).toBe(200);
    expect((await call(`/v1/conversations/${id}`)).status).toBe(404);
  });

  it("keeps a streamed turn whose lease ran out before its commit: it is rescued, not lost", async () => {
    vi.spyOn(ConversationHome.prototype, "commit").mockResolvedValueOnce({ status: "lost" });
    const sent: RescueJob[] = [];
    captureQueue(sent);
    const environment = testEnv();
    const response = await chat({ stream: true, messages: [{ role: "user", content: "late but mine" }] }, {}, environment);
    expect(await response.text()).toContain("data: [DONE]");
    await settle();
    expect(sent).toHaveLength(1);
    const message = { body: sent[0]!, attempts: 1, ack: () => undefined, retry: () => undefined };
    await handleWebhookBatch({ queue: "switchboard-webhooks", messages: [message] } as unknown as MessageBatch<RescueJob>, environment, executionContext().ctx);
    expect(await storedTurns(response.headers.get("X-Conversation-Id")!)).toHaveLength(1);
  });
});
