// Conversations in Workers KV, built for what KV is: eventually consistent, last write wins, one
// write per second per key. A conversation is a grow-only set of turns. Every turn writes one new,
// never-rewritten key holding a snapshot of every turn its writer knew, plus the keys it supersedes
// (its parents) in the key's metadata. Reading lists the conversation's keys and merges the heads
// (keys nobody names as a parent). Two turns that ran at once each leave a head; the next reader
// unions them, so concurrent turns lose nothing and no key is ever written twice.

import type { ChatMessage } from "../protocol/types.js";
import { isJsonObject } from "../protocol/types.js";

export interface TurnRecord {
  id: string;
  /** Epoch ms; concurrent turns are ordered by when they started, then by id. */
  started_at: number;
  completed_at: number;
  /** True when the turn ended before the model answered (client went away mid-stream). */
  incomplete: boolean;
  /** How many of `messages` came from the request; the rest the turn produced. Absent in older turns. */
  input_count?: number;
  messages: ChatMessage[];
}

export interface Conversation {
  id: string;
  tenant: string;
  turns: TurnRecord[];
  /** The snapshot keys this view was merged from: the next write supersedes them. */
  heads: string[];
  /** Size of the stored snapshot, to enforce the size limit before spending a model call. */
  bytes: number;
}

interface SnapshotMetadata {
  parents: string[];
  turns: number;
  bytes: number;
}

interface Snapshot {
  conversation_id: string;
  turns: TurnRecord[];
}

export interface ConversationStoreOptions {
  kv: KVNamespace;
  ttlSeconds: number;
  maxBytes: number;
}

export class ConversationTooLargeError extends Error {
  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`The conversation would be ${bytes} bytes, over the ${maxBytes}-byte limit.`);
    this.name = "ConversationTooLargeError";
  }
}

/** A snapshot built and checked against the size limit, not yet written. */
export interface PreparedAppend {
  bytes: number;
  /** Writes the snapshot; `cleanup` is the best-effort removal of the snapshots it supersedes. */
  write(): Promise<{ cleanup: Promise<void> }>;
}

export interface ConversationStore {
  load(tenant: string, id: string): Promise<Conversation | null>;
  /**
   * Stores `turn` on top of `base`. Once this resolves the turn is durable; `cleanup` is the work
   * that may run after the response.
   */
  append(tenant: string, id: string, base: Conversation | null, turn: TurnRecord): Promise<{ cleanup: Promise<void> }>;
  /** Builds the snapshot `append` would write, throwing ConversationTooLargeError before anything is written. */
  prepare(tenant: string, id: string, base: Conversation | null, turn: TurnRecord): PreparedAppend;
  delete(tenant: string, id: string): Promise<boolean>;
}

import { MIN_KV_TTL_SECONDS } from "../lib/kv.js";

export { MIN_KV_TTL_SECONDS };

export function messagesOf(conversation: Conversation | null): ChatMessage[] {
  return conversation ? conversation.turns.flatMap((turn) => turn.messages) : [];
}

export function createConversationStore(options: ConversationStoreOptions): ConversationStore {
  const { kv } = options;
  const prefixOf = (tenant: string, id: string) => `conversations/${encodeURIComponent(tenant)}/${id}/`;

  async function listAll(prefix: string): Promise<Array<KVNamespaceListKey<SnapshotMetadata>>> {
    const keys: Array<KVNamespaceListKey<SnapshotMetadata>> = [];
    let cursor: string | undefined;
    do {
      const page: KVNamespaceListResult<SnapshotMetadata> = await kv.list<SnapshotMetadata>({ prefix, ...(cursor ? { cursor } : {}) });
      keys.push(...page.keys);
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return keys;
  }

  async function loadOnce(tenant: string, id: string): Promise<{ conversation: Conversation | null; missingHead: boolean }> {
    const prefix = prefixOf(tenant, id);
    const keys = await listAll(prefix);
    if (keys.length === 0) return { conversation: null, missingHead: false };
    const superseded = new Set(keys.flatMap((key) => key.metadata?.parents ?? []));
    const heads = keys.map((key) => key.name.slice(prefix.length)).filter((name) => !superseded.has(name));
    const snapshots = await Promise.all(heads.map((head) => kv.get<Snapshot>(prefix + head, "json")));
    const turns = new Map<string, TurnRecord>();
    let missingHead = false;
    let bytes = 0;
    for (const snapshot of snapshots) {
      if (!snapshot || !Array.isArray(snapshot.turns)) {
        missingHead = true;
        continue;
      }
      for (const turn of snapshot.turns) if (isJsonObject(turn) && !turns.has(turn.id)) turns.set(turn.id, turn);
    }
    const ordered = [...turns.values()].sort((left, right) => left.started_at - right.started_at || left.id.localeCompare(right.id));
    // One head (the usual case): its size is in its metadata, and the snapshot need not be serialised again.
    const single = heads.length === 1 ? keys.find((key) => key.name === prefix + heads[0])?.metadata?.bytes : undefined;
    bytes = typeof single === "number" ? single : byteLength(JSON.stringify({ conversation_id: id, turns: ordered }));
    if (ordered.length === 0) return { conversation: null, missingHead };
    return { conversation: { id, tenant, turns: ordered, heads, bytes }, missingHead };
  }

  function prepare(tenant: string, id: string, base: Conversation | null, turn: TurnRecord): PreparedAppend {
    const prefix = prefixOf(tenant, id);
    const turns = [...(base?.turns.filter((existing) => existing.id !== turn.id) ?? []), turn];
    const snapshot: Snapshot = { conversation_id: id, turns };
    const value = JSON.stringify(snapshot);
    const bytes = byteLength(value);
    if (bytes > options.maxBytes) throw new ConversationTooLargeError(bytes, options.maxBytes);
    const name = snapshotName(turn);
    // Re-storing a turn rewrites its own key, which must never become its own parent.
    const parents = (base?.heads ?? []).filter((head) => head !== name);
    const metadata: SnapshotMetadata = { parents, turns: turns.length, bytes };
    return {
      bytes,
      async write() {
        await kv.put(prefix + name, value, { expirationTtl: Math.max(MIN_KV_TTL_SECONDS, options.ttlSeconds), metadata });
        // The parents are now redundant. Deleting them keeps reads to one list and one get; if a delete
        // is lost, the parent only lingers until its TTL, and readers still skip it as superseded.
        const cleanup = Promise.all(parents.map((parent) => kv.delete(prefix + parent))).then(
          () => undefined,
          () => undefined,
        );
        return { cleanup };
      },
    };
  }

  return {
    async load(tenant, id) {
      const first = await loadOnce(tenant, id);
      // A head can vanish between list and get when another turn superseded and cleaned it up;
      // listing again finds the snapshot that replaced it.
      if (!first.missingHead) return first.conversation;
      return (await loadOnce(tenant, id)).conversation;
    },

    append: async (tenant, id, base, turn) => prepare(tenant, id, base, turn).write(),
    prepare,

    async delete(tenant, id) {
      const prefix = prefixOf(tenant, id);
      const keys = await listAll(prefix);
      await Promise.all(keys.map((key) => kv.delete(key.name)));
      return keys.length > 0;
    },
  };
}

/** Sortable by start time, unique by turn id. */
function snapshotName(turn: TurnRecord): string {
  return `${turn.started_at.toString().padStart(15, "0")}-${turn.id}`;
}

function byteLength(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}
