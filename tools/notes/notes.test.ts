import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ToolCallContext } from "../../kit/index.js";
import worker, { notesTool } from "./index.js";
import { DEFAULT_TTL_SECONDS, type Note, type NotesEnv, ttlSeconds } from "./notes.js";

// The real KV binding from the test runtime (bound as NOTES); `env` is untyped for bindings here.
const NOTES = (env as unknown as { NOTES: KVNamespace }).NOTES;
const notesEnv: NotesEnv = { NOTES };

interface Failure {
  error: { type: string; message: string; code: string | null };
}
interface Saved extends Note {
  status: "saved" | "already_saved";
}
interface Recalled {
  notes: Note[];
  count: number;
  truncated: boolean;
}

/** A fresh conversation per test, so tests never see each other's notes. */
function conversation(overrides: Partial<ToolCallContext> = {}): ToolCallContext {
  const id = crypto.randomUUID();
  return {
    conversation_id: `conv_${id}`,
    tool_call_id: `call_${id}`,
    request_id: `req_${id}`,
    tenant: "default",
    idempotency_key: `idem_${id}`,
    ...overrides,
  };
}

/** One tool call: a new tool call id and idempotency key in the same conversation. */
function nextCall(context: ToolCallContext): ToolCallContext {
  const id = crypto.randomUUID();
  return { ...context, tool_call_id: `call_${id}`, idempotency_key: `idem_${id}` };
}

async function invoke(args: unknown, context: ToolCallContext, bindings: NotesEnv = notesEnv): Promise<Response> {
  return worker.app.request(
    "/invoke",
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ arguments: args, context }) },
    bindings,
  );
}

async function call<T>(args: unknown, context: ToolCallContext, bindings: NotesEnv = notesEnv): Promise<T> {
  const response = await invoke(args, context, bindings);
  const body = (await response.json()) as { result: T } | Failure;
  if ("error" in body) throw new Error(`${response.status} ${body.error.type}: ${body.error.message}`);
  return body.result;
}

const save = (text: string, context: ToolCallContext) => call<Saved>({ action: "save", text }, context);
const recall = (context: ToolCallContext, query?: string) =>
  call<Recalled>(query === undefined ? { action: "recall" } : { action: "recall", query }, nextCall(context));

/** Moves the clock a second forward, so notes saved in a row get distinct, ordered saved_at. */
let clock = Date.parse("2026-11-20T08:00:00.000Z");
function tick(): void {
  vi.useFakeTimers({ toFake: ["Date"] });
  clock += 1000;
  vi.setSystemTime(clock);
}

afterEach(() => {
  vi.useRealTimers();
});

describe("notes schema", () => {
  it("declares side effects and the action/text/query/note_id parameters", async () => {
    expect(notesTool.definition.function.name).toBe("notes");
    expect(notesTool.definition.metadata.side_effects).toBe(true);
    const parameters = notesTool.definition.function.parameters as {
      properties: Record<string, { type?: string; enum?: string[]; maxLength?: number; description?: string }>;
      required: string[];
    };
    expect(parameters.required).toEqual(["action"]);
    expect(parameters.properties.action?.enum).toEqual(["save", "recall", "delete"]);
    expect(parameters.properties.text?.maxLength).toBe(2000);
    for (const name of ["action", "text", "query", "note_id"]) {
      expect(parameters.properties[name]?.description).toBeTruthy();
    }

    const response = await worker.app.request("/schema", {}, notesEnv);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { metadata: { side_effects: boolean } }).metadata.side_effects).toBe(true);
  });
});

describe("notes", () => {
  it("saves a note and recalls it", async () => {
    const context = conversation();

    const saved = await save("The user prefers window seats.", context);
    const recalled = await recall(context);

    expect(saved.status).toBe("saved");
    expect(saved.id).toMatch(/^n_[0-9a-f]{16}$/);
    expect(saved.text).toBe("The user prefers window seats.");
    expect(new Date(saved.saved_at).toISOString()).toBe(saved.saved_at);
    expect(recalled).toEqual({
      notes: [{ id: saved.id, text: saved.text, saved_at: saved.saved_at }],
      count: 1,
      truncated: false,
    });
  });

  it("stores the note under notes/{tenant}/{conversation}/{id} with its text in the metadata", async () => {
    const context = conversation({ tenant: "acme" });

    const saved = await save("short note", context);
    const listed = await NOTES.list({ prefix: `notes/acme/${context.conversation_id}/` });

    expect(listed.keys.map((key) => key.name)).toEqual([`notes/acme/${context.conversation_id}/${saved.id}`]);
    expect(listed.keys[0]?.metadata).toEqual({ saved_at: saved.saved_at, preview: "short note" });
    expect(await NOTES.get(listed.keys[0]!.name, "json")).toEqual({
      id: saved.id,
      text: "short note",
      saved_at: saved.saved_at,
    });
  });

  it("recalls notes oldest first", async () => {
    const context = conversation();

    tick();
    const first = await save("first", nextCall(context));
    tick();
    const second = await save("second", nextCall(context));
    tick();
    const third = await save("third", nextCall(context));
    const recalled = await recall(context);

    expect(recalled.notes.map((note) => note.id)).toEqual([first.id, second.id, third.id]);
    expect(recalled.count).toBe(3);
  });

  it("recalls long notes in full, including ones too big for KV metadata", async () => {
    const context = conversation();
    const long = "x".repeat(2000);
    const cjk = "上海天气".repeat(100); // 400 characters, 1200 bytes: over KV's 1024-byte metadata limit

    await save(long, nextCall(context));
    await save(cjk, nextCall(context));
    const recalled = await recall(context);

    expect(recalled.notes.map((note) => note.text).sort()).toEqual([long, cjk].sort());
  });

  it("filters recalled notes by query, case-insensitively", async () => {
    const context = conversation();

    tick();
    await save("Flight to Paris on Friday", nextCall(context));
    tick();
    await save("Hotel booked near the Louvre", nextCall(context));
    tick();
    await save("Remember: PARIS museum pass", nextCall(context));
    const recalled = await recall(context, "paris");

    expect(recalled.notes.map((note) => note.text)).toEqual(["Flight to Paris on Friday", "Remember: PARIS museum pass"]);
    expect(recalled.count).toBe(2);
  });

  it("deletes a note by id, and reports 404 for a note that is not there", async () => {
    const context = conversation();
    const kept = await save("keep me", nextCall(context));
    const doomed = await save("delete me", nextCall(context));

    const deleted = await call({ action: "delete", note_id: doomed.id }, nextCall(context));
    const recalled = await recall(context);
    const again = await invoke({ action: "delete", note_id: doomed.id }, nextCall(context));

    expect(deleted).toEqual({ deleted: true, id: doomed.id });
    expect(recalled.notes.map((note) => note.id)).toEqual([kept.id]);
    expect(again.status).toBe(404);
    const body = (await again.json()) as Failure;
    expect(body.error.type).toBe("not_found");
    expect(body.error.message).toContain("recall");
  });

  it("saves once when a call is retried with the same idempotency key", async () => {
    const context = conversation();

    const first = await save("only once", context);
    const retry = await save("only once", context);
    const recalled = await recall(context);

    expect(first.status).toBe("saved");
    expect(retry.status).toBe("already_saved");
    expect(retry.id).toBe(first.id);
    expect(retry.saved_at).toBe(first.saved_at);
    expect(recalled.count).toBe(1);
  });

  it("falls back to the tool call id for idempotency, and to a fresh id when there is neither", async () => {
    const byCallId = conversation({ idempotency_key: "" });
    await save("retried by call id", byCallId);
    await save("retried by call id", byCallId);
    expect((await recall(byCallId)).count).toBe(1);

    const anonymous = conversation({ idempotency_key: "", tool_call_id: "" });
    const a = await save("one", anonymous);
    const b = await save("two", anonymous);
    expect(a.id).not.toBe(b.id);
    expect((await recall(anonymous)).count).toBe(2);
  });

  it("keeps notes to their conversation and tenant", async () => {
    const owner = conversation({ tenant: "acme" });
    const saved = await save("secret plan", owner);

    const otherConversation = conversation({ tenant: "acme" });
    const otherTenant = { ...nextCall(owner), tenant: "globex" };
    // A conversation id that is a prefix of the owner's must not see its notes either.
    const prefixConversation = { ...nextCall(owner), conversation_id: owner.conversation_id!.slice(0, -4) };

    for (const context of [otherConversation, otherTenant, prefixConversation]) {
      expect(await recall(context)).toEqual({ notes: [], count: 0, truncated: false });
      const deleteAttempt = await invoke({ action: "delete", note_id: saved.id }, nextCall(context));
      expect(deleteAttempt.status).toBe(404);
    }
    expect((await recall(owner)).count).toBe(1);
  });

  it("forgets every note of one conversation on POST /forget, and only that conversation's", async () => {
    const owner = conversation({ tenant: "acme" });
    for (let index = 0; index < 3; index++) await save(`note ${index}`, nextCall(owner));
    const neighbour = conversation({ tenant: "acme" });
    await save("keep me", neighbour);
    const sameIdOtherTenant = { ...nextCall(owner), tenant: "globex" };
    await save("keep me too", sameIdOtherTenant);

    const forget = (scope: unknown) =>
      worker.app.request("/forget", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(scope) }, notesEnv);
    const response = await forget({ tenant: "acme", conversation_id: owner.conversation_id });

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ forgotten: 3 });
    expect((await recall(owner)).count).toBe(0);
    expect((await recall(neighbour)).count).toBe(1);
    expect((await recall(sameIdOtherTenant)).count).toBe(1);
    expect(await (await forget({ tenant: "acme", conversation_id: owner.conversation_id })).json()).toEqual({ forgotten: 0 });
    expect((await forget({ tenant: "acme" })).status).toBe(400);
    expect(notesTool.definition.metadata.forgets_conversations).toBe(true);
  });

  it("refuses with 400 when the call has no conversation", async () => {
    for (const action of [{ action: "save", text: "hello" }, { action: "recall" }]) {
      const response = await invoke(action, conversation({ conversation_id: null }));
      expect(response.status).toBe(400);
      const body = (await response.json()) as Failure;
      expect(body.error.message).toMatch(/conversation/);
    }
  });

  it("refuses with 400 a save without text, with empty or too long text, and a delete without note_id", async () => {
    const context = conversation();
    const attempts = [
      { action: "save" },
      { action: "save", text: "" },
      { action: "save", text: "   " },
      { action: "save", text: "y".repeat(2001) },
      { action: "delete" },
      { action: "forget" },
    ];

    for (const args of attempts) {
      const response = await invoke(args, nextCall(context));
      expect(response.status, JSON.stringify(args).slice(0, 60)).toBe(400);
      expect(((await response.json()) as Failure).error.type).toBe("invalid_arguments");
    }
    expect((await recall(context)).count).toBe(0);
  });

  it("caps recall at the 100 most recent notes", async () => {
    const context = conversation();
    for (let index = 0; index < 105; index++) {
      tick();
      await save(`note ${index}`, nextCall(context));
    }

    const recalled = await recall(context);

    expect(recalled.count).toBe(100);
    expect(recalled.truncated).toBe(true);
    expect(recalled.notes).toHaveLength(100);
    const savedAt = recalled.notes.map((note) => note.saved_at);
    expect(savedAt).toEqual([...savedAt].sort());
    expect(recalled.notes.map((note) => note.text)).not.toContain("note 0");
  });

  it("expires notes after NOTES_TTL_SECONDS, never sooner than KV's 60-second minimum", async () => {
    const context = conversation();
    const before = Math.floor(Date.now() / 1000);

    await call({ action: "save", text: "short-lived" }, context, { NOTES, NOTES_TTL_SECONDS: "5" });
    const [key] = (await NOTES.list({ prefix: `notes/default/${context.conversation_id}/` })).keys;

    expect(key?.expiration).toBeGreaterThanOrEqual(before + 60);
    expect(key?.expiration).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 61);
    expect(ttlSeconds({})).toBe(DEFAULT_TTL_SECONDS);
    expect(ttlSeconds({ NOTES_TTL_SECONDS: "3600" })).toBe(3600);
    expect(ttlSeconds({ NOTES_TTL_SECONDS: "0" })).toBe(60);
    expect(ttlSeconds({ NOTES_TTL_SECONDS: "not a number" })).toBe(DEFAULT_TTL_SECONDS);
  });
});
