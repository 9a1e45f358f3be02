import { reset, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app.js";
import { readConfig } from "../../src/config.js";
import type { KvWrite } from "../../src/conversations/kv-writes.js";
import { createConversationStore } from "../../src/conversations/store.js";
import { createJournal, JOURNAL_SHARDS, placeOf, shardOf } from "../../src/ledger/journal.js";
import { JournalTable, KEEP_WRITTEN_MS } from "../../src/ledger/journal-table.js";
import type { Ledger } from "../../src/ledger/ledger.js";
import type { ResponseObject } from "../../src/protocol/responses/types.js";
import type { StoredResponse } from "../../src/responses/store.js";
import { createResponseStore } from "../../src/responses/store.js";
import { eventually } from "../integration/support/eventually.js";
import { CLIENT_KEY, executionContext, routeFetchToOfflineModel, testEnv } from "./support/app.js";
import { turn } from "./support/turns.js";

const LEDGER = (env as unknown as { LEDGER: DurableObjectNamespace<Ledger> }).LEDGER;
const KV = (env as unknown as { CONVERSATIONS: KVNamespace }).CONVERSATIONS;

const write = (key: string, value = `value of ${key}`, supersedes: string[] = []): KvWrite => ({
  key,
  value,
  metadata: { parents: supersedes },
  expirationTtl: 3600,
  supersedes,
});

/** A KV that records puts and deletes, and fails puts while `failing` is set. */
function recordingKv() {
  const puts: string[] = [];
  const deletes: string[] = [];
  const state = { failing: false };
  const kv = {
    async put(key: string) {
      if (state.failing) throw new Error("KV is unavailable");
      puts.push(key);
    },
    async delete(key: string) {
      deletes.push(key);
    },
  } as unknown as KVNamespace;
  return { kv, puts, deletes, state };
}

/** Runs `body` against a fresh journal table inside a ledger object's storage. */
function inJournal<T>(body: (table: JournalTable, storage: DurableObjectStorage) => Promise<T>): Promise<T> {
  const stub = LEDGER.get(LEDGER.idFromName(`journal-test:${crypto.randomUUID()}`));
  return runInDurableObject(stub, (_instance, state) => body(new JournalTable(state.storage), state.storage));
}

beforeEach(() => {
  vi.spyOn(console, "error").mockImplementation(() => undefined);
});

afterEach(async () => {
  vi.restoreAllMocks();
  await reset();
});

describe("journal table", () => {
  it("holds a committed write until KV has it, deletes what it superseded, and lets go a minute later", async () => {
    await inJournal(async (table) => {
      const kv = recordingKv();
      table.commit(write("c/1", "one", ["c/0"]));
      const pending = [{ key: "c/1", value: "one", metadata: { parents: ["c/0"] } }];
      expect(table.pending("c/")).toEqual(pending);
      await table.flush(kv.kv);
      expect(kv.puts).toEqual(["c/1"]);
      expect(kv.deletes).toEqual(["c/0"]);
      // Still shown to readers while KV may not show it everywhere yet.
      expect(table.pending("c/")).toEqual(pending);
      await table.flush(kv.kv);
      expect(kv.puts).toEqual(["c/1"]);

      table.dropExpired(Date.now() + KEEP_WRITTEN_MS);
      expect(table.pending("c/")).toEqual([]);
      expect(table.nextDue()).toBeNull();
    });
  });

  it("keeps a write whose KV put failed, and retries it later rather than dropping it", async () => {
    await inJournal(async (table) => {
      const kv = recordingKv();
      kv.state.failing = true;
      table.commit(write("c/1"));
      await table.flush(kv.kv);
      expect(table.pending("c/")).toHaveLength(1);
      expect(kv.deletes).toEqual([]);
      const due = table.nextDue();
      expect(due).toBeGreaterThan(Date.now());

      kv.state.failing = false;
      await table.flush(kv.kv, due ?? 0);
      expect(kv.puts).toEqual(["c/1"]);
    });
  });

  it("never writes a key that a later write in the same batch supersedes, and still deletes its parents", async () => {
    await inJournal(async (table) => {
      const kv = recordingKv();
      table.commit(write("c/1", "one", ["c/0"]));
      table.commit(write("c/2", "two", ["c/1"]));
      await table.flush(kv.kv);
      expect(kv.puts).toEqual(["c/2"]);
      expect(kv.deletes.sort()).toEqual(["c/0", "c/1"]);
      expect(table.pending("c/").map((pending) => pending.key)).toEqual(["c/2"]);
    });
  });

  it("replaces an earlier write of the same key", async () => {
    await inJournal(async (table) => {
      table.commit(write("c/1", "first"));
      table.commit(write("c/1", "second"));
      expect(table.pending("c/").map((pending) => pending.value)).toEqual(["second"]);
    });
  });

  it("stores a value larger than one SQLite row can hold, whole", async () => {
    await inJournal(async (table) => {
      const big = "é".repeat(1_200_000);
      table.commit(write("c/big", big));
      expect(table.pending("c/")[0]?.value).toBe(big);
    });
  });

  it("keeps a character whose two UTF-16 halves fall on either side of a part boundary", async () => {
    await inJournal(async (table) => {
      // A part holds 512 Ki characters: the emoji's surrogate pair straddles the first boundary.
      const big = `${"a".repeat(512 * 1024 - 1)}😀${"b".repeat(10)}`;
      table.commit(write("c/emoji", big));
      const value = table.pending("c/")[0]?.value ?? "";
      expect(value.slice(512 * 1024 - 2, 512 * 1024 + 2)).toBe("a😀b");
      expect(value === big).toBe(true);
    });
  });

  it("forgets a group's writes so that none of them lands afterwards", async () => {
    await inJournal(async (table) => {
      const kv = recordingKv();
      table.commit(write("c/1"));
      table.commit(write("other/1"));
      expect(await table.forget("c/")).toEqual(["c/1"]);
      await table.flush(kv.kv);
      expect(kv.puts).toEqual(["other/1"]);
    });
  });
});

describe("journal table under a batch", () => {
  it("writes a batch a few at a time, and a write still waiting when its group is forgotten never lands", async () => {
    await inJournal(async (table) => {
      const puts: string[] = [];
      let inFlight = 0;
      let mostInFlight = 0;
      const slowKv = {
        async put(key: string) {
          inFlight++;
          mostInFlight = Math.max(mostInFlight, inFlight);
          await new Promise((resolve) => setTimeout(resolve, 5));
          puts.push(key);
          inFlight--;
        },
        async delete() {},
      } as unknown as KVNamespace;
      for (let index = 0; index < 10; index++) table.commit(write(`c/${index}`));
      const flushing = table.flush(slowKv);
      expect(await table.forget("c/")).toHaveLength(10);
      const landedBeforeForgetAnswered = [...puts];
      await flushing;
      expect(mostInFlight).toBeLessThanOrEqual(4);
      expect(puts).toEqual(landedBeforeForgetAnswered);
      expect(puts.length).toBeLessThan(10);
    });
  });
});

describe("journal table under concurrent flushes", () => {
  it("writes a key once when a listing's flush reaches it while the alarm's put of it is under way, and a forget waits for that put", async () => {
    await inJournal(async (table) => {
      const puts: string[] = [];
      let landFirstPut: () => void = () => undefined;
      const kv = {
        put(key: string) {
          puts.push(key);
          // The first put (the alarm's) lands only when the test says so.
          if (puts.length === 1) return new Promise<void>((resolve) => (landFirstPut = resolve));
          return Promise.resolve();
        },
        async delete() {},
      } as unknown as KVNamespace;
      table.commit(write("c/1"));
      const alarm = table.flush(kv);
      const listing = table.flushUnder(kv, "c/");
      let forgotten = false;
      const forgetting = table.forget("c/").then(() => {
        forgotten = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 0));
      // The alarm's put could still land: answering now would let it land after the delete.
      expect(forgotten).toBe(false);
      landFirstPut();
      await Promise.all([alarm, listing, forgetting]);
      expect(puts).toEqual(["c/1"]);
    });
  });
});

describe("journal objects", () => {
  it("are named per location and shard, a conversation always on the same shard", () => {
    expect(shardOf("conversations/t/conv_1/", JOURNAL_SHARDS)).toBe(shardOf("conversations/t/conv_1/", JOURNAL_SHARDS));
    const shards = new Set(Array.from({ length: 64 }, (_, index) => shardOf(`conversations/t/conv_${index}/`, JOURNAL_SHARDS)));
    expect(shards.size).toBe(JOURNAL_SHARDS);
    expect(placeOf(new Request("https://x", { cf: { colo: "sjc" } } as RequestInit))).toBe("SJC");
    expect(placeOf(new Request("https://x"))).toBe("any");
  });
});

describe("conversation store through the journal", () => {
  const place = () => `test-${crypto.randomUUID().slice(0, 8)}`;
  const storeAt = (where: string) => createConversationStore({ kv: KV, writer: createJournal(LEDGER, where), ttlSeconds: 3600, maxBytes: 1_000_000 });
  const journalObject = (where: string, id: string) =>
    LEDGER.get(LEDGER.idFromName(`journal:${where}:${shardOf(`conversations/default/${id}/`, JOURNAL_SHARDS)}`));

  it("reads a committed turn back at once, and finds it in KV once the alarm wrote it", async () => {
    const where = place();
    const store = storeAt(where);
    await store.append("default", "conv_journal", null, turn("turn_1", 1000));
    const base = await store.load("default", "conv_journal");
    expect(base?.turns.map((entry) => entry.id)).toEqual(["turn_1"]);
    await store.append("default", "conv_journal", base, turn("turn_2", 2000));
    expect((await store.load("default", "conv_journal"))?.turns.map((entry) => entry.id)).toEqual(["turn_1", "turn_2"]);

    // The alarm was set for now: it runs by itself, or here.
    await runDurableObjectAlarm(journalObject(where, "conv_journal"));
    const written = await eventually(async () => {
      const names = (await KV.list({ prefix: "conversations/default/conv_journal/" })).keys.map((key) => key.name);
      return names.length === 1 && names[0]?.endsWith("turn_2") ? names : null;
    });
    expect(written).toHaveLength(1);
    expect((await store.list("default", { limit: 10 })).conversations).toMatchObject([{ id: "conv_journal", turns: 2 }]);
    expect((await store.load("default", "conv_journal"))?.turns.map((entry) => entry.id)).toEqual(["turn_1", "turn_2"]);
  });

  it("refuses a turn whose snapshot KV would always refuse (too many branches for its metadata), leaving nothing in the journal", async () => {
    const where = place();
    const store = storeAt(where);
    await store.append("default", "conv_branches", null, turn("turn_1", 1000));
    const base = await store.load("default", "conv_branches");
    const heads = Array.from({ length: 40 }, (_, index) => `000000000001000-turn_branch_${index}_abcdefghij`);
    await expect(store.append("default", "conv_branches", { ...base!, heads }, turn("turn_2", 2000))).rejects.toThrow(/concurrent branches/);
    expect((await store.load("default", "conv_branches"))?.turns.map((entry) => entry.id)).toEqual(["turn_1"]);
  });

  it("lists a conversation whose first turn is still only in the journal", async () => {
    const store = storeAt(place());
    await store.append("default", "conv_listed", null, turn("turn_1", 1000));
    expect((await store.list("default", { limit: 10 })).conversations).toMatchObject([{ id: "conv_listed", turns: 1 }]);
  });

  it("deletes a conversation whose turn KV has not got yet, and the alarm does not bring it back", async () => {
    const where = place();
    const store = storeAt(where);
    await store.append("default", "conv_gone", null, turn("turn_1", 1000));
    expect(await store.delete("default", "conv_gone")).toBe(true);
    await runDurableObjectAlarm(journalObject(where, "conv_gone"));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await store.load("default", "conv_gone")).toBeNull();
    expect((await KV.list({ prefix: "conversations/default/conv_gone/" })).keys).toHaveLength(0);
  });

  it("deletes a snapshot the journal wrote moments ago even when KV's list does not show it yet", async () => {
    const where = place();
    await storeAt(where).append("default", "conv_recent", null, turn("turn_1", 1000));
    await runDurableObjectAlarm(journalObject(where, "conv_recent"));
    const prefix = "conversations/default/conv_recent/";
    expect((await KV.list({ prefix })).keys).toHaveLength(1);
    // A list made just after the put, as the journal keeps written entries for: the key is not in it yet.
    const lagging = new Proxy(KV, {
      get: (target, property) =>
        property === "list"
          ? async (options: KVNamespaceListOptions) => {
              const page = await target.list(options);
              return { ...page, keys: page.keys.filter((key) => !key.name.startsWith(prefix)) };
            }
          : Reflect.get(target, property, target).bind(target),
    });
    const store = createConversationStore({ kv: lagging, writer: createJournal(LEDGER, where), ttlSeconds: 3600, maxBytes: 1_000_000 });
    expect(await store.delete("default", "conv_recent")).toBe(true);
    expect((await KV.list({ prefix })).keys).toHaveLength(0);
  });
});

describe("a snapshot at the size limit", () => {
  it("commits and reads back through the journal at the largest MAX_CONVERSATION_BYTES allows, whatever its characters", async () => {
    const { maxBytes } = readConfig(testEnv({ MAX_CONVERSATION_BYTES: String(25 * 1_048_576) })).conversations;
    // One character outside Latin-1 and the whole string crosses RPC as UTF-16: two bytes a character.
    const value = `${"a".repeat(maxBytes - 4)}😀`;
    const journal = createJournal(LEDGER, `test-${crypto.randomUUID().slice(0, 8)}`);
    await journal.commit("c/", { key: "c/1", value, metadata: {}, expirationTtl: 3600, supersedes: [] });
    expect((await journal.pending("c/"))[0]?.value.length).toBe(value.length);
  });
});

describe("stored responses through the journal", () => {
  const record = (id: string): StoredResponse => ({ conversation_id: "conv_1", turn_id: "turn_1", response: { id } as ResponseObject });

  it("deleting an id that only begins another's leaves the other stored, and answers that nothing was there", async () => {
    // One shard, so that both keys are in the same journal object.
    const responses = createResponseStore(KV, createJournal(LEDGER, `test-${crypto.randomUUID().slice(0, 8)}`, 1), 3600);
    await responses.put("default", record("resp_abcdef"));
    expect(await responses.delete("default", "resp_abc")).toBe(false);
    expect((await responses.get("default", "resp_abcdef"))?.response.id).toBe("resp_abcdef");
  });
});

/** The app with every KV put hanging forever: only what goes through the journal can be stored. */
function appWithHangingKvPuts() {
  routeFetchToOfflineModel();
  vi.spyOn(console, "log").mockImplementation(() => undefined);
  const neverSettles = new Promise<never>(() => undefined);
  const hangingPuts = new Proxy(KV, {
    get: (target, property) => (property === "put" ? () => neverSettles : Reflect.get(target, property, target).bind(target)),
  });
  const appEnv = testEnv({ CONVERSATIONS: hangingPuts });
  return (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    createApp().request(
      `https://switchboard.test${path}`,
      {
        method: body === undefined ? "GET" : "POST",
        headers: { Authorization: `Bearer ${CLIENT_KEY}`, "Content-Type": "application/json", ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      },
      appEnv,
      executionContext().ctx,
    );
}

describe("a turn's answer", () => {
  it("does not wait for KV: with every KV put hanging, the client is answered and continues the conversation", async () => {
    const call = appWithHangingKvPuts();
    const first = await call("/v1/chat/completions", { messages: [{ role: "user", content: "hello" }] });
    expect(first.status).toBe(200);
    const id = ((await first.json()) as { conversation_id: string }).conversation_id;
    const second = await call("/v1/chat/completions", { messages: [{ role: "user", content: "and again" }] }, { "X-Conversation-Id": id });
    expect(second.status).toBe(200);
    const stored = (await (await call(`/v1/conversations/${id}`)).json()) as { turns: unknown[] };
    expect(stored.turns).toHaveLength(2);
  });

  it("does not wait for KV on the Responses door either: a response is continued and read back at once", async () => {
    const call = appWithHangingKvPuts();
    const first = await call("/v1/responses", { input: "hello" });
    expect(first.status).toBe(200);
    const { id } = (await first.json()) as { id: string };
    const second = await call("/v1/responses", { input: "and again", previous_response_id: id });
    expect(second.status).toBe(200);
    const next = (await second.json()) as { id: string };
    expect((await call(`/v1/responses/${next.id}`)).status).toBe(200);
  });
});
