import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { KvWriter } from "../../src/conversations/kv-writes.js";
import { directKvWriter } from "../../src/conversations/kv-writes.js";
import type { TurnRecord } from "../../src/conversations/store.js";
import { ConversationTooLargeError, createConversationStore, MIN_KV_TTL_SECONDS, messagesOf } from "../../src/conversations/store.js";

import { turn } from "./support/turns.js";

const KV = (env as unknown as { CONVERSATIONS: KVNamespace }).CONVERSATIONS;

const store = (overrides: { kv?: KVNamespace; writer?: KvWriter; ttlSeconds?: number; maxBytes?: number } = {}) =>
  createConversationStore({ kv: KV, writer: directKvWriter(overrides.kv ?? KV), ttlSeconds: 3600, maxBytes: 1_000_000, ...overrides });

let counter = 0;
const uniqueId = (label: string) => `conv_${label}_${++counter}_${crypto.randomUUID().slice(0, 8)}`;

async function keysOf(tenant: string, id: string): Promise<string[]> {
  const listed = await KV.list({ prefix: `conversations/${encodeURIComponent(tenant)}/${id}/` });
  return listed.keys.map((key) => key.name);
}

afterEach(async () => {
  await reset();
});

describe("conversation store", () => {
  it("loads an unknown conversation as null", async () => {
    expect(await store().load("default", uniqueId("unknown"))).toBeNull();
  });

  it("loads what was appended", async () => {
    const conversations = store();
    const id = uniqueId("append");
    await conversations.append("default", id, null, turn("turn_1", 1000));
    const loaded = await conversations.load("default", id);
    expect(loaded).not.toBeNull();
    expect(loaded!.id).toBe(id);
    expect(loaded!.tenant).toBe("default");
    expect(loaded!.turns).toEqual([turn("turn_1", 1000)]);
    expect(loaded!.heads).toHaveLength(1);
    expect(loaded!.bytes).toBeGreaterThan(0);
    expect(messagesOf(loaded)).toEqual(turn("turn_1", 1000).messages);
  });

  it("appends turns in order on top of the previous one and keeps one key", async () => {
    const conversations = store();
    const id = uniqueId("chain");
    await conversations.append("default", id, null, turn("turn_1", 1000));
    const first = await conversations.load("default", id);
    await conversations.append("default", id, first, turn("turn_2", 2000));
    const second = await conversations.load("default", id);
    expect(second!.turns.map((entry) => entry.id)).toEqual(["turn_1", "turn_2"]);
    expect(await keysOf("default", id)).toHaveLength(1);
  });

  it("keeps both of two turns appended on the same base, ordered by started_at", async () => {
    const conversations = store();
    const id = uniqueId("concurrent");
    await conversations.append("default", id, null, turn("turn_1", 1000));
    const base = await conversations.load("default", id);
    // Two turns that ran at once: both read `base`, the later-started one finishes first.
    await conversations.append("default", id, base, turn("turn_b", 3000));
    await conversations.append("default", id, base, turn("turn_a", 2000));

    const merged = await conversations.load("default", id);
    expect(merged!.turns.map((entry) => entry.id)).toEqual(["turn_1", "turn_a", "turn_b"]);
    expect(merged!.heads).toHaveLength(2);
    expect(messagesOf(merged).map((message) => message.content)).toEqual([
      "question turn_1",
      "answer turn_1",
      "question turn_a",
      "answer turn_a",
      "question turn_b",
      "answer turn_b",
    ]);
  });

  it("orders turns with the same start by id", async () => {
    const conversations = store();
    const id = uniqueId("tie");
    await conversations.append("default", id, null, turn("turn_z", 1000));
    await conversations.append("default", id, null, turn("turn_y", 1000));
    expect((await conversations.load("default", id))!.turns.map((entry) => entry.id)).toEqual(["turn_y", "turn_z"]);
  });

  it("supersedes both heads with the next append, and deletes the parents once it is written", async () => {
    // A writer that leaves the parents' deletes for later, as a lost or slow delete would.
    const lateDeletes: string[] = [];
    const conversations = store({
      writer: {
        ...directKvWriter(KV),
        commit: async (_group, write) => {
          await KV.put(write.key, write.value, { expirationTtl: write.expirationTtl, metadata: write.metadata });
          lateDeletes.push(...write.supersedes);
        },
      },
    });
    const id = uniqueId("supersede");
    await conversations.append("default", id, null, turn("turn_1", 1000));
    const base = await conversations.load("default", id);
    await conversations.append("default", id, base, turn("turn_a", 2000));
    await conversations.append("default", id, base, turn("turn_b", 3000));
    const merged = await conversations.load("default", id);
    await Promise.all(lateDeletes.splice(0).map((key) => KV.delete(key)));
    expect(await keysOf("default", id)).toHaveLength(2);

    await conversations.append("default", id, merged, turn("turn_c", 4000));
    // Before the deletes the parents are still stored, but readers already skip them.
    const beforeCleanup = await conversations.load("default", id);
    expect(beforeCleanup!.heads).toHaveLength(1);
    expect(beforeCleanup!.turns.map((entry) => entry.id)).toEqual(["turn_1", "turn_a", "turn_b", "turn_c"]);

    expect(lateDeletes).toHaveLength(2);
    await Promise.all(lateDeletes.map((key) => KV.delete(key)));
    const keys = await keysOf("default", id);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toContain("turn_c");
    const after = await conversations.load("default", id);
    expect(after!.turns.map((entry) => entry.id)).toEqual(["turn_1", "turn_a", "turn_b", "turn_c"]);
    expect(after!.heads).toEqual([keys[0]!.split("/").at(-1)]);
  });

  it("records the parents in the new key's metadata", async () => {
    const conversations = store();
    const id = uniqueId("metadata");
    await conversations.append("default", id, null, turn("turn_1", 1000));
    const base = await conversations.load("default", id);
    await conversations.append("default", id, base, turn("turn_2", 2000));
    const listed = await KV.list<{ parents: string[]; turns: number; bytes: number }>({ prefix: `conversations/default/${id}/` });
    const newest = listed.keys.find((key) => key.name.endsWith("turn_2"));
    expect(newest!.metadata).toMatchObject({ parents: base!.heads, turns: 2 });
  });

  it("keeps tenants apart", async () => {
    const conversations = store();
    const id = uniqueId("tenant");
    await conversations.append("tenant/a", id, null, turn("turn_a", 1000));
    await conversations.append("tenant-b", id, null, turn("turn_b", 1000));
    expect((await conversations.load("tenant/a", id))!.turns.map((entry) => entry.id)).toEqual(["turn_a"]);
    expect((await conversations.load("tenant-b", id))!.turns.map((entry) => entry.id)).toEqual(["turn_b"]);
    expect(await conversations.load("tenant", id)).toBeNull();
    expect(await conversations.delete("tenant-b", id)).toBe(true);
    expect(await conversations.load("tenant/a", id)).not.toBeNull();
  });

  it("refuses a turn that would make the conversation too large, and stores nothing", async () => {
    const conversations = store({ maxBytes: 500 });
    const id = uniqueId("large");
    const big = turn("turn_big", 1000, "x".repeat(600));
    let caught: unknown;
    try {
      await conversations.append("default", id, null, big);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConversationTooLargeError);
    expect((caught as ConversationTooLargeError).maxBytes).toBe(500);
    expect((caught as ConversationTooLargeError).bytes).toBeGreaterThan(500);
    expect(await keysOf("default", id)).toEqual([]);
  });

  it("counts bytes, not characters, against the limit", async () => {
    const id = uniqueId("bytes");
    // 150 CJK characters are 450 UTF-8 bytes.
    const cjk = turn("turn_cjk", 1000, "上".repeat(150));
    const length = JSON.stringify({ conversation_id: id, turns: [cjk] }).length;
    await expect(store({ maxBytes: length + 10 }).append("default", id, null, cjk)).rejects.toBeInstanceOf(ConversationTooLargeError);
  });

  it("raises a TTL under 60 s to KV's minimum", async () => {
    const puts: Array<KVNamespacePutOptions | undefined> = [];
    const spy = {
      get: KV.get.bind(KV),
      list: KV.list.bind(KV),
      delete: KV.delete.bind(KV),
      getWithMetadata: KV.getWithMetadata.bind(KV),
      put: (key: string, value: string, options?: KVNamespacePutOptions) => {
        puts.push(options);
        return KV.put(key, value, options);
      },
    } as unknown as KVNamespace;
    const id = uniqueId("ttl");
    await store({ kv: spy, ttlSeconds: 5 }).append("default", id, null, turn("turn_1", 1000));
    expect(puts).toHaveLength(1);
    expect(puts[0]!.expirationTtl).toBe(MIN_KV_TTL_SECONDS);
    // And the real KV accepted it.
    expect(await store().load("default", id)).not.toBeNull();
  });

  it("passes a TTL over the minimum through", async () => {
    const puts: Array<KVNamespacePutOptions | undefined> = [];
    const spy = {
      get: KV.get.bind(KV),
      list: KV.list.bind(KV),
      delete: KV.delete.bind(KV),
      put: (key: string, value: string, options?: KVNamespacePutOptions) => {
        puts.push(options);
        return KV.put(key, value, options);
      },
    } as unknown as KVNamespace;
    await store({ kv: spy, ttlSeconds: 7200 }).append("default", uniqueId("ttl2"), null, turn("turn_1", 1000));
    expect(puts[0]!.expirationTtl).toBe(7200);
  });

  it("delete removes every key of the conversation", async () => {
    const conversations = store();
    const id = uniqueId("delete");
    const other = uniqueId("keep");
    await conversations.append("default", other, null, turn("turn_keep", 1000));
    await conversations.append("default", id, null, turn("turn_1", 1000));
    const base = await conversations.load("default", id);
    await conversations.append("default", id, base, turn("turn_a", 2000));
    await conversations.append("default", id, base, turn("turn_b", 3000));
    // Two branches off one base: both heads stay, the superseded base is gone.
    expect(await keysOf("default", id)).toHaveLength(2);

    expect(await conversations.delete("default", id)).toBe(true);
    expect(await keysOf("default", id)).toEqual([]);
    expect(await conversations.load("default", id)).toBeNull();
    expect(await conversations.load("default", other)).not.toBeNull();
  });

  it("delete of an unknown conversation answers false", async () => {
    expect(await store().delete("default", uniqueId("none"))).toBe(false);
  });

  // Re-appending a turn id (an incomplete turn replaced) writes a key of the same name as a head: it
  // must not list itself as superseded, nor be deleted by its own cleanup.
  it("replaces a turn with the same id rather than losing the conversation", async () => {
    const conversations = store();
    const id = uniqueId("same");
    await conversations.append("default", id, null, turn("turn_1", 1000));
    const base = await conversations.load("default", id);
    await conversations.append("default", id, base, { ...turn("turn_1", 1000), incomplete: true });
    const afterCleanup = await conversations.load("default", id);
    expect(afterCleanup?.turns).toHaveLength(1);
    expect(afterCleanup?.turns[0]?.incomplete).toBe(true);
  });
});

describe("listing a tenant's conversations", () => {
  it("lists each conversation once, with its title, turn count and times, from key metadata", async () => {
    const conversations = store();
    const tenant = `list-${crypto.randomUUID().slice(0, 8)}`;
    await conversations.append(tenant, "conv_a", null, turn("turn_1", 1000, "one"));
    const loaded = await conversations.load(tenant, "conv_a");
    await conversations.append(tenant, "conv_a", loaded, turn("turn_2", 2000, "two"));
    await conversations.append(tenant, "conv_b", null, turn("turn_3", 3000, "  many\n  words "));
    await conversations.append("someone-else", "conv_c", null, turn("turn_4", 4000));

    const page = await conversations.list(tenant, { limit: 10 });
    expect(page.cursor).toBeNull();
    expect(page.conversations).toEqual([
      { id: "conv_a", turns: 2, bytes: expect.any(Number), title: "question one", created_at: 1000, updated_at: 2010 },
      { id: "conv_b", turns: 1, bytes: expect.any(Number), title: "question many words", created_at: 3000, updated_at: 3010 },
    ]);
  });

  it("pages with a cursor until the last page", async () => {
    const conversations = store();
    const tenant = `pages-${crypto.randomUUID().slice(0, 8)}`;
    for (const id of ["conv_1", "conv_2", "conv_3"]) await conversations.append(tenant, id, null, turn(`turn_${id}`, 1000));
    const first = await conversations.list(tenant, { limit: 2 });
    expect(first.conversations.map((conversation) => conversation.id)).toEqual(["conv_1", "conv_2"]);
    expect(first.cursor).toEqual(expect.any(String));
    const second = await conversations.list(tenant, { limit: 2, cursor: first.cursor! });
    expect(second.conversations.map((conversation) => conversation.id)).toEqual(["conv_3"]);
    expect(second.cursor).toBeNull();
  });

  it("cuts a long first message to a short title", async () => {
    const conversations = store();
    const tenant = `title-${crypto.randomUUID().slice(0, 8)}`;
    await conversations.append(tenant, "conv_long", null, turn("turn_1", 1000, "y".repeat(500)));
    const [summary] = (await conversations.list(tenant, { limit: 5 })).conversations;
    expect(summary!.title!.length).toBe(64);
    expect(summary!.title!.endsWith("…")).toBe(true);
  });
});

describe("traces within the size limit", () => {
  const traced = (id: string, startedAt: number): TurnRecord => ({
    ...turn(id, startedAt),
    trace: {
      trace_id: "a".repeat(32),
      parent_span_id: null,
      spans: [
        {
          span_id: "b".repeat(16),
          parent_span_id: null,
          name: "x".repeat(600),
          kind: "internal",
          start_ms: 0,
          duration_ms: 1,
          status: { code: "ok" },
          attributes: {},
        },
      ],
    },
  });

  it("drops the oldest turns' traces, not the turn, when the conversation would outgrow its limit", async () => {
    const conversations = store({ maxBytes: 1_700 });
    const id = uniqueId("traces");
    await conversations.append("default", id, null, traced("turn_1", 1000));
    const first = await conversations.load("default", id);
    await conversations.append("default", id, first, traced("turn_2", 2000));
    const loaded = await conversations.load("default", id);
    expect(loaded!.turns.map((each) => each.id)).toEqual(["turn_1", "turn_2"]);
    expect(loaded!.turns[0]!.trace).toBeUndefined();
    expect(loaded!.turns[1]!.trace).toBeDefined();
  });

  it("still refuses a turn whose messages alone do not fit", async () => {
    const conversations = store({ maxBytes: 120 });
    await expect(conversations.append("default", uniqueId("full"), null, traced("turn_1", 1000))).rejects.toThrow(ConversationTooLargeError);
  });
});
