// notes: a small per-conversation notebook in Workers KV. Keys are
//   notes/{tenant}/{conversation_id}/{id}
// with each component URI-encoded, so one conversation's prefix can never cover another's.
// The value is the note as JSON; short texts are repeated in the key's metadata so recall is a
// single list() for them, long ones are fetched with get().

import { type ForgetRequest, type ToolCallContext, ToolError } from "../../kit/index.js";
import type { NotesBindings } from "./worker-configuration.js";

export interface NotesEnv extends Pick<NotesBindings, "NOTES"> {
  /** Seconds a note lives; a string because it is a [vars] entry. Default 30 days, at least 60. */
  NOTES_TTL_SECONDS?: string;
}

export interface Note {
  id: string;
  text: string;
  saved_at: string;
}

interface NoteMetadata {
  saved_at: string;
  /** The whole text when short enough, else its beginning and `truncated: true`. */
  preview: string;
  truncated?: true;
}

export const MAX_TEXT_LENGTH = 2000;
export const MAX_RECALLED_NOTES = 100;
/** Texts up to this many characters are kept whole in the metadata. */
const METADATA_TEXT_LENGTH = 500;
/** KV rejects metadata over 1024 bytes serialized; stay under it with room for saved_at. */
const METADATA_BYTE_BUDGET = 900;
const PREVIEW_LENGTH = 120;
export const DEFAULT_TTL_SECONDS = 2_592_000; // 30 days
const MIN_TTL_SECONDS = 60; // KV rejects an expirationTtl below 60
const MAX_LIST_PAGES = 10;

/** The arguments of a call, as index.ts declares them to the model (and the kit validates). */
export interface NotesArgs {
  action: "save" | "recall" | "delete";
  text?: string | undefined;
  query?: string | undefined;
  note_id?: string | undefined;
}

function invalid(message: string): ToolError {
  return new ToolError(message, { status: 400, type: "invalid_arguments" });
}

export function ttlSeconds(env: Pick<NotesEnv, "NOTES_TTL_SECONDS">): number {
  const configured = Number.parseInt(env.NOTES_TTL_SECONDS ?? "", 10);
  const ttl = Number.isFinite(configured) ? configured : DEFAULT_TTL_SECONDS;
  return Math.max(ttl, MIN_TTL_SECONDS);
}

function prefixOf(tenant: string, conversationId: string): string {
  return `notes/${encodeURIComponent(tenant || "default")}/${encodeURIComponent(conversationId)}/`;
}

function scopePrefix(context: ToolCallContext): string {
  if (!context.conversation_id) {
    throw new ToolError("Notes belong to a conversation, and this call has no conversation id. " + "Notes cannot be used here; answer without them.", {
      status: 400,
      type: "tool_error",
      code: "conversation_required",
    });
  }
  return prefixOf(context.tenant, context.conversation_id);
}

async function sha256Hex(text: string, length: number): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)]
    .map((byte) => byte.toString(16).padStart(2, "0"))
    .join("")
    .slice(0, length);
}

/** The same tool call (a retry carries the same idempotency key) always gets the same note id. */
async function noteIdFor(context: ToolCallContext): Promise<string> {
  const source = context.idempotency_key
    ? `idempotency:${context.idempotency_key}`
    : context.tool_call_id
      ? `tool_call:${context.tool_call_id}`
      : `random:${crypto.randomUUID()}`;
  return `n_${await sha256Hex(source, 16)}`;
}

const utf8 = new TextEncoder();

function metadataFor(note: Note): NoteMetadata {
  const whole: NoteMetadata = { saved_at: note.saved_at, preview: note.text };
  if (note.text.length <= METADATA_TEXT_LENGTH && utf8.encode(JSON.stringify(whole)).byteLength <= METADATA_BYTE_BUDGET) {
    return whole;
  }
  // Code points, not UTF-16 units, so a preview never ends in half a surrogate pair.
  const preview = [...note.text].slice(0, PREVIEW_LENGTH).join("");
  return { saved_at: note.saved_at, preview, truncated: true };
}

function isMetadata(value: unknown): value is NoteMetadata {
  return (
    typeof value === "object" && value !== null && typeof (value as NoteMetadata).saved_at === "string" && typeof (value as NoteMetadata).preview === "string"
  );
}

function isNote(value: unknown): value is Note {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Note).id === "string" &&
    typeof (value as Note).text === "string" &&
    typeof (value as Note).saved_at === "string"
  );
}

async function save(args: NotesArgs, env: NotesEnv, context: ToolCallContext) {
  if (args.text === undefined || args.text.trim() === "") {
    throw invalid('action "save" needs `text`: the note to save (1 to 2000 characters).');
  }
  const prefix = scopePrefix(context);
  const id = await noteIdFor(context);
  const key = prefix + id;

  // A retried call finds the note its first attempt saved and returns it unchanged.
  const existing = await env.NOTES.get<Note>(key, "json");
  if (isNote(existing)) {
    return { status: "already_saved" as const, ...existing };
  }

  const note: Note = { id, text: args.text, saved_at: new Date().toISOString() };
  await env.NOTES.put(key, JSON.stringify(note), {
    expirationTtl: ttlSeconds(env),
    metadata: metadataFor(note),
  });
  return { status: "saved" as const, ...note };
}

interface Listed {
  key: string;
  id: string;
  saved_at: string;
  /** Set when the metadata holds the whole text. */
  text: string | null;
}

async function listScope(env: NotesEnv, prefix: string): Promise<Listed[]> {
  const listed: Listed[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const result = await env.NOTES.list<NoteMetadata>({ prefix, cursor });
    for (const key of result.keys) {
      const metadata = isMetadata(key.metadata) ? key.metadata : null;
      listed.push({
        key: key.name,
        id: decodeURIComponent(key.name.slice(prefix.length)),
        saved_at: metadata?.saved_at ?? "",
        text: metadata && !metadata.truncated ? metadata.preview : null,
      });
    }
    if (result.list_complete) break;
    cursor = result.cursor;
  }
  return listed;
}

async function recall(args: NotesArgs, env: NotesEnv, context: ToolCallContext) {
  const prefix = scopePrefix(context);
  const query = args.query?.trim().toLowerCase() ?? "";
  // Newest first while collecting, so the cap keeps the most recent notes.
  const listed = (await listScope(env, prefix)).sort((a, b) => b.saved_at.localeCompare(a.saved_at));

  const notes: Note[] = [];
  let truncated = false;
  const batchSize = 20;
  for (let start = 0; start < listed.length; start += batchSize) {
    const batch = await Promise.all(
      listed.slice(start, start + batchSize).map(async (entry): Promise<Note | null> => {
        if (entry.text !== null) return { id: entry.id, text: entry.text, saved_at: entry.saved_at };
        const stored = await env.NOTES.get<Note>(entry.key, "json");
        return isNote(stored) ? stored : null; // null: expired or deleted since the list
      }),
    );
    for (const note of batch) {
      if (!note || (query && !note.text.toLowerCase().includes(query))) continue;
      if (notes.length === MAX_RECALLED_NOTES) {
        truncated = true;
        break;
      }
      notes.push(note);
    }
    if (truncated) break;
  }

  notes.sort((a, b) => a.saved_at.localeCompare(b.saved_at) || a.id.localeCompare(b.id));
  return { notes, count: notes.length, truncated };
}

async function remove(args: NotesArgs, env: NotesEnv, context: ToolCallContext) {
  const noteId = args.note_id?.trim();
  if (!noteId) {
    throw invalid('action "delete" needs `note_id`: the id of a note, as returned by "save" or "recall".');
  }
  const key = scopePrefix(context) + encodeURIComponent(noteId);
  if ((await env.NOTES.get(key)) === null) {
    throw new ToolError(`There is no note with id "${noteId}" in this conversation. Use action "recall" to see the notes and their ids.`, {
      status: 404,
      type: "not_found",
      code: "note_not_found",
    });
  }
  await env.NOTES.delete(key);
  return { deleted: true, id: noteId };
}

/** Deletes every note of one conversation (DELETE /v1/conversations/:id), however many pages they fill. */
export async function forgetConversation(scope: ForgetRequest, env: NotesEnv): Promise<{ forgotten: number }> {
  const prefix = prefixOf(scope.tenant, scope.conversation_id);
  let forgotten = 0;
  let cursor: string | undefined;
  do {
    const page = await env.NOTES.list({ prefix, ...(cursor ? { cursor } : {}) });
    await Promise.all(page.keys.map((key) => env.NOTES.delete(key.name)));
    forgotten += page.keys.length;
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return { forgotten };
}

export function runNotes(args: NotesArgs, env: NotesEnv, context: ToolCallContext) {
  switch (args.action) {
    case "save":
      return save(args, env, context);
    case "recall":
      return recall(args, env, context);
    case "delete":
      return remove(args, env, context);
  }
}
