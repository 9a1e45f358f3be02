// Conversations in Workers KV, built for what KV is: eventually consistent, last write wins, one
// write per second per key. A conversation is a grow-only set of turns. Every turn writes one new,
// never-rewritten key holding a snapshot of every turn its writer knew, plus the keys it supersedes
// (its parents) in the key's metadata. Reading lists the conversation's keys and merges the heads
// (keys nobody names as a parent). Two turns that ran at once each leave a head; the next reader
// unions them, so concurrent turns lose nothing and no key is ever written twice.
//
// Writes go through a KvWriter (kv-writes.ts): in production the ledger's journal, which holds a
// committed turn until KV has it. Readers merge the writer's pending keys with KV's, so a turn is
// visible from the moment it is committed, wherever its key is at the time.

import { byteLength } from "../lib/bytes.js";
import { MAX_KV_METADATA_BYTES, MIN_KV_TTL_SECONDS } from "../lib/kv.js";
import type { ChatMessage } from "../protocol/types.js";
import { isJsonObject } from "../protocol/types.js";
import type { TurnTrace } from "../trace/turn-trace.js";
import type { KvWriteMetadata, KvWriter, PendingWrite } from "./kv-writes.js";

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
  /** What happened during the turn, as spans (src/trace/turn-trace.ts). Absent in older turns. */
  trace?: TurnTrace;
  /** The stored Responses API object that answered this turn, if any: deleting the conversation deletes it too. */
  response_id?: string;
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
  /** For listing without reading values: the first user text (cut short), first and last turn times. */
  title?: string | null;
  created_at?: number;
  updated_at?: number;
}

/** One conversation as the list shows it, read from key metadata only. */
export interface ConversationSummary {
  id: string;
  turns: number;
  bytes: number;
  title: string | null;
  created_at: number | null;
  updated_at: number | null;
}

export interface ConversationPage {
  conversations: ConversationSummary[];
  /** Pass back to read the next page; null on the last one. */
  cursor: string | null;
}

/** Characters of the first user message kept as a conversation's title (KV metadata holds 1 KiB). */
export const TITLE_CHARS = 64;

interface Snapshot {
  conversation_id: string;
  turns: TurnRecord[];
}

export interface ConversationStoreOptions {
  kv: KVNamespace;
  writer: KvWriter;
  ttlSeconds: number;
  maxBytes: number;
}

/** So many turns ran at once on one conversation that its next snapshot cannot name them all. */
export class ConversationBranchesError extends Error {
  constructor(readonly heads: number) {
    super(`The conversation has ${heads} concurrent branches, more than one snapshot can merge; retry the turn once they have been merged.`);
    this.name = "ConversationBranchesError";
  }
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

export interface ConversationStore {
  load(tenant: string, id: string): Promise<Conversation | null>;
  /** Stores `turn` on top of `base`. Once this resolves the turn is durable and every reader sees it. */
  append(tenant: string, id: string, base: Conversation | null, turn: TurnRecord): Promise<void>;
  delete(tenant: string, id: string): Promise<boolean>;
  /** The tenant's conversations, a page of KV keys at a time (one list call, no reads). */
  list(tenant: string, options: { limit: number; cursor?: string }): Promise<ConversationPage>;
}

export { MIN_KV_TTL_SECONDS };

export function messagesOf(conversation: Conversation | null): ChatMessage[] {
  return conversation ? conversation.turns.flatMap((turn) => turn.messages) : [];
}

export function createConversationStore(options: ConversationStoreOptions): ConversationStore {
  const { kv, writer } = options;
  const tenantPrefix = (tenant: string) => `conversations/${encodeURIComponent(tenant)}/`;
  const prefixOf = (tenant: string, id: string) => `${tenantPrefix(tenant)}${id}/`;

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
    const [listed, pending] = await Promise.all([listAll(prefix), writer.pending(prefix)]);
    const keys = withPending(listed, pending);
    if (keys.length === 0) return { conversation: null, missingHead: false };
    const superseded = new Set(keys.flatMap((key) => key.metadata?.parents ?? []));
    const heads = keys.map((key) => key.name.slice(prefix.length)).filter((name) => !superseded.has(name));
    const pendingValues = new Map(pending.map((write) => [write.key, write.value]));
    const snapshots = await Promise.all(
      heads.map((head) => {
        const value = pendingValues.get(prefix + head);
        return value === undefined ? kv.get<Snapshot>(prefix + head, "json") : (JSON.parse(value) as Snapshot);
      }),
    );
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

  return {
    async load(tenant, id) {
      const first = await loadOnce(tenant, id);
      // A head can vanish between list and get when another turn superseded and cleaned it up;
      // listing again finds the snapshot that replaced it.
      if (!first.missingHead) return first.conversation;
      return (await loadOnce(tenant, id)).conversation;
    },

    async append(tenant, id, base, turn) {
      const prefix = prefixOf(tenant, id);
      const { turns, value, bytes } = withinLimit(id, [...(base?.turns.filter((existing) => existing.id !== turn.id) ?? []), turn], options.maxBytes);
      if (bytes > options.maxBytes) throw new ConversationTooLargeError(bytes, options.maxBytes);
      const name = snapshotName(turn);
      // Re-storing a turn rewrites its own key, which must never become its own parent.
      const parents = (base?.heads ?? []).filter((head) => head !== name);
      const metadata: SnapshotMetadata = {
        parents,
        turns: turns.length,
        bytes,
        title: titleOf(turns),
        created_at: turns[0]?.started_at ?? turn.started_at,
        updated_at: Math.max(...turns.map((each) => each.completed_at)),
      };
      // KV refuses metadata over 1 KiB, and a write it will always refuse must fail the turn now,
      // not wait in the journal for ever: the title gives way first, then the turn is refused.
      if (byteLength(JSON.stringify(metadata)) > MAX_KV_METADATA_BYTES) metadata.title = null;
      if (byteLength(JSON.stringify(metadata)) > MAX_KV_METADATA_BYTES) throw new ConversationBranchesError(parents.length);
      // The parents become redundant once this key is in KV; deleting them then keeps reads to one
      // list and one get. A lost delete only lingers until its TTL: readers skip superseded keys.
      await writer.commit(prefix, {
        key: prefix + name,
        value,
        metadata: metadata as unknown as KvWriteMetadata,
        expirationTtl: Math.max(MIN_KV_TTL_SECONDS, options.ttlSeconds),
        supersedes: parents.map((parent) => prefix + parent),
      });
    },

    async list(tenant, { limit, cursor }) {
      const prefix = tenantPrefix(tenant);
      // A listing pages through KV's keys, so what the writer still holds goes to KV first: a turn
      // committed just before shows on the first page.
      if (!cursor) await writer.settle(prefix);
      const page = await kv.list<SnapshotMetadata>({ prefix, limit, ...(cursor ? { cursor } : {}) });
      // A conversation's keys are adjacent (its id, then a snapshot name): one entry per id, its newest
      // snapshot's metadata. While a superseded snapshot awaits cleanup an id has two keys, and, at a
      // page boundary, may show on two consecutive pages.
      const byId = new Map<string, ConversationSummary>();
      for (const key of page.keys) {
        const rest = key.name.slice(prefix.length);
        const id = rest.slice(0, rest.indexOf("/"));
        const meta = key.metadata;
        const summary: ConversationSummary = {
          id,
          turns: meta?.turns ?? 0,
          bytes: meta?.bytes ?? 0,
          title: meta?.title ?? null,
          created_at: meta?.created_at ?? null,
          updated_at: meta?.updated_at ?? null,
        };
        const seen = byId.get(id);
        if (!seen || summary.turns >= seen.turns) byId.set(id, summary);
      }
      return { conversations: [...byId.values()], cursor: page.list_complete ? null : page.cursor };
    },

    async delete(tenant, id) {
      const prefix = prefixOf(tenant, id);
      // What the writer still holds must never land after the keys are gone.
      const held = await writer.forget(prefix);
      // The writer's keys too: one it put moments ago may not be listed yet.
      const keys = new Set([...(await listAll(prefix)).map((key) => key.name), ...held]);
      await Promise.all([...keys].map((key) => kv.delete(key)));
      return keys.size > 0;
    },
  };
}

/** KV's listing plus the writer's pending keys, as if KV already had them. */
function withPending(
  listed: ReadonlyArray<KVNamespaceListKey<SnapshotMetadata>>,
  pending: readonly PendingWrite[],
): Array<KVNamespaceListKey<SnapshotMetadata>> {
  if (pending.length === 0) return [...listed];
  const names = new Set(listed.map((key) => key.name));
  const extra = pending.filter((write) => !names.has(write.key)).map((write) => ({ name: write.key, metadata: write.metadata as unknown as SnapshotMetadata }));
  return [...listed, ...extra].sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0));
}

/**
 * The snapshot to store, serialised once. Traces are observations: when a conversation would outgrow
 * its size limit, the oldest turns' traces give way first, and a turn is refused only when its
 * messages alone do not fit.
 */
function withinLimit(id: string, all: TurnRecord[], maxBytes: number): { turns: TurnRecord[]; value: string; bytes: number } {
  const serialise = (turns: TurnRecord[]) => {
    const value = JSON.stringify({ conversation_id: id, turns } satisfies Snapshot);
    return { turns, value, bytes: byteLength(value) };
  };
  const whole = serialise(all);
  let excess = whole.bytes - maxBytes;
  if (excess <= 0) return whole;
  return serialise(
    all.map((turn) => {
      if (excess <= 0 || !turn.trace) return turn;
      const { trace: _dropped, ...rest } = turn;
      excess -= byteLength(JSON.stringify(turn)) - byteLength(JSON.stringify(rest));
      return rest;
    }),
  );
}

/** The first user message's text, cut to TITLE_CHARS: what a person recognises a conversation by. */
function titleOf(turns: readonly TurnRecord[]): string | null {
  for (const turn of turns) {
    for (const message of turn.messages) {
      if (message.role !== "user") continue;
      const text = typeof message.content === "string" ? message.content : message.content.map((part) => (part.type === "text" ? part.text : "")).join(" ");
      const title = text.replace(/\s+/g, " ").trim();
      if (title) return title.length > TITLE_CHARS ? `${title.slice(0, TITLE_CHARS - 1)}…` : title;
    }
  }
  return null;
}

/** Sortable by start time, unique by turn id. */
function snapshotName(turn: TurnRecord): string {
  return `${turn.started_at.toString().padStart(15, "0")}-${turn.id}`;
}
