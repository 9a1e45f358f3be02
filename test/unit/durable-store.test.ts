import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDurableConversationStore } from "../../src/conversations/durable-store.js";
import type { TurnRecord } from "../../src/conversations/store.js";
import { createConversationStore } from "../../src/conversations/store.js";
import { createJournal } from "../../src/ledger/claims.js";
import type { Ledger } from "../../src/ledger/ledger.js";

const bindings = env as unknown as { CONVERSATIONS: KVNamespace; LEDGER: DurableObjectNamespace<Ledger> };
const journal = createJournal(bindings.LEDGER);

function turn(id: string, startedAt: number, text: string): TurnRecord {
  return {
    id,
    started_at: startedAt,
    completed_at: startedAt + 1,
    incomplete: false,
    input_count: 1,
    messages: [
      { role: "user", content: text },
      { role: "assistant", content: `re: ${text}` },
    ],
  };
}

/** A KV namespace whose writes are held back (or fail) until the test says so. */
function slowKv(options: { failWrites?: number } = {}) {
  let failures = options.failWrites ?? 0;
  const held: Array<() => void> = [];
  const kv = {
    get: bindings.CONVERSATIONS.get.bind(bindings.CONVERSATIONS),
    list: bindings.CONVERSATIONS.list.bind(bindings.CONVERSATIONS),
    delete: bindings.CONVERSATIONS.delete.bind(bindings.CONVERSATIONS),
    put: (key: string, value: string, putOptions?: KVNamespacePutOptions) => {
      if (failures > 0) {
        failures -= 1;
        return Promise.reject(new Error("KV write failed"));
      }
      if (!options.failWrites) return new Promise<void>((resolve) => held.push(() => resolve(bindings.CONVERSATIONS.put(key, value, putOptions))));
      return bindings.CONVERSATIONS.put(key, value, putOptions);
    },
  } as unknown as KVNamespace;
  return {
    kv,
    release: () => {
      for (const go of held.splice(0)) go();
    },
  };
}

const storeOver = (kv: KVNamespace) =>
  createDurableConversationStore({ kv: createConversationStore({ kv, ttlSeconds: 3600, maxBytes: 1_000_000 }), journal, ttlSeconds: 3600 });

describe("conversations with the KV write behind the answer", () => {
  it("shows a turn to the next reader as soon as append resolves, before KV holds it", async () => {
    const id = `conv_durable_${crypto.randomUUID().slice(0, 8)}`;
    const { kv, release } = slowKv();
    const store = storeOver(kv);
    const { cleanup } = await store.append("tenant", id, null, turn("t1", 1, "hello"));

    const seen = await store.load("tenant", id);
    expect(seen?.turns.map((entry) => entry.id)).toEqual(["t1"]);
    expect(await bindings.CONVERSATIONS.list({ prefix: `conversations/tenant/${id}/` })).toMatchObject({ keys: [] });

    release();
    await cleanup;
    expect((await bindings.CONVERSATIONS.list({ prefix: `conversations/tenant/${id}/` })).keys).toHaveLength(1);
  });

  it("heals a KV write that failed with the next turn's snapshot", async () => {
    const id = `conv_heal_${crypto.randomUUID().slice(0, 8)}`;
    const { kv } = slowKv({ failWrites: 1 });
    const store = storeOver(kv);
    const first = await store.append("tenant", id, null, turn("t1", 1, "first"));
    await first.cleanup.catch(() => undefined);

    const base = await store.load("tenant", id);
    await (await store.append("tenant", id, base, turn("t2", 2, "second"))).cleanup;

    const fromKvAlone = await createConversationStore({ kv: bindings.CONVERSATIONS, ttlSeconds: 3600, maxBytes: 1_000_000 }).load("tenant", id);
    expect(fromKvAlone?.turns.map((entry) => entry.id)).toEqual(["t1", "t2"]);
  });

  it("forgets the ledger's copy too when the conversation is deleted", async () => {
    const id = `conv_forget_${crypto.randomUUID().slice(0, 8)}`;
    const { kv } = slowKv();
    const store = storeOver(kv);
    await store.append("tenant", id, null, turn("t1", 1, "secret"));
    expect(await store.delete("tenant", id)).toBe(true);
    expect(await store.load("tenant", id)).toBeNull();
  });

  it("refuses a turn over the size limit before recording anything", async () => {
    const id = `conv_big_${crypto.randomUUID().slice(0, 8)}`;
    const store = createDurableConversationStore({
      kv: createConversationStore({ kv: bindings.CONVERSATIONS, ttlSeconds: 3600, maxBytes: 100 }),
      journal,
      ttlSeconds: 3600,
    });
    await expect(store.append("tenant", id, null, turn("t1", 1, "x".repeat(500)))).rejects.toThrow(/over the 100-byte limit/);
    expect(await store.load("tenant", id)).toBeNull();
  });
});
