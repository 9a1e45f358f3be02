// The caller's side of conversation homes (home.ts), as the composition root hands it to the doors
// and the loop: begin a turn (a lease, or a 409 when the line is full), commit what it produced,
// read, list, delete. Outcomes the home answers as values become the errors the doors map to HTTP.

import { ApprovalPendingError } from "../approvals/errors.js";
import type { ParkedStep } from "../approvals/types.js";
import type { Env } from "../env.js";
import type { MixedStep } from "../history/mixed-steps.js";
import { conversationOfCall } from "../history/mixed-steps.js";
import { randomToken } from "../lib/ids.js";
import type { BeginRequest, CommitOutcome, ConversationHome } from "./home.js";
import { directoryOf, homeHexOf, homeId, LEASE_MS, homeByHex as stubByHex, homeOf as stubOf } from "./names.js";
import type { ConversationPage, StoredResponse, TurnProducts, TurnRecord } from "./turns.js";
import { ConversationBusyError, ConversationGoneError, ConversationTooLargeError } from "./turns.js";

/** A turn renews its lease this often, so only a Worker that died lets it run out. */
const RENEW_EVERY_MS = LEASE_MS / 3;
/** Responses stored before homes: one KV key each, read where they are until they expire. */
const LEGACY_RESPONSE_ID = /^resp_[A-Za-z0-9]{32}$/;

export interface Lease {
  turns: TurnRecord[];
  bytes: number;
  /** Set when this conversation already committed the Idempotency-Key's answer: the JSON to replay. */
  replay: string | null;
  /** The parked step this turn continues (given only to its continuation run), decisions in. */
  parked: ParkedStep | null;
  /** Everything the turn produced, in one transaction; once this resolves the turn is stored and the line moves on. */
  commit(turn: TurnRecord, products: TurnProducts): Promise<void>;
  /** The turn stored nothing: the next in line may go. */
  release(): Promise<void>;
}

export interface ConversationHomes {
  begin(request: Omit<BeginRequest, "waitMs">): Promise<Lease>;
  read(tenant: string, conversationId: string): Promise<{ turns: TurnRecord[]; bytes: number } | null>;
  remove(tenant: string, conversationId: string): Promise<boolean>;
  list(tenant: string, options: { limit: number; cursor?: string }): Promise<ConversationPage>;
  response(tenant: string, responseId: string): Promise<StoredResponse | null>;
  deleteResponse(tenant: string, responseId: string): Promise<boolean>;
  mixedStep(tenant: string, callId: string): Promise<MixedStep | null>;
  /** A token for a response of this conversation: its id (`resp_<token>`) names the home that keeps it. */
  responseToken(tenant: string, conversationId: string): string;
  /** A turn the client saw whose commit kept failing: committed later, from a queue, once. */
  rescue(tenant: string, conversationId: string, turn: TurnRecord, products: TurnProducts): Promise<void>;
}

export interface HomesOptions {
  maxBytes: number;
  ttlSeconds: number;
  /** How long a turn waits behind a running one before it is refused. */
  waitMs: number;
  /** The home these homes are used from (a run it hosts): reached directly, not through its own stub. */
  self?: { id: DurableObjectId; home: ConversationHome };
}

export class InvalidCursorError extends Error {
  constructor() {
    super("Invalid cursor: pass back a next_cursor exactly as it was received.");
    this.name = "InvalidCursorError";
  }
}

export function createHomes(env: Env, options: HomesOptions): ConversationHomes {
  const self = options.self;
  // The object's own methods take what its stub takes and answer what it answers.
  const own = self ? (self.home as unknown as DurableObjectStub<ConversationHome>) : null;
  const homeOf = (envIn: Env, tenant: string, conversationId: string): DurableObjectStub<ConversationHome> =>
    own && self?.id.equals(homeId(envIn, tenant, conversationId)) ? own : stubOf(envIn, tenant, conversationId);
  const homeByHex = (envIn: Env, hex: string): DurableObjectStub<ConversationHome> | null => (own && self?.id.toString() === hex ? own : stubByHex(envIn, hex));
  const commitFailure = (conversationId: string, outcome: Exclude<CommitOutcome, { status: "ok" }>): Error => {
    if (outcome.status === "too_large") return new ConversationTooLargeError(outcome.bytes, options.maxBytes);
    if (outcome.status === "gone") return new ConversationGoneError(conversationId);
    return new ConversationBusyError(1);
  };

  return {
    async begin(request) {
      const home = homeOf(env, request.tenant, request.conversationId);
      const outcome = await home.begin({ ...request, waitMs: options.waitMs });
      if (outcome.status === "busy") throw new ConversationBusyError(Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)));
      if (outcome.status === "gone") throw new ConversationGoneError(request.conversationId);
      if (outcome.status === "awaiting_approval") throw new ApprovalPendingError(request.conversationId, outcome.approvals);
      if (outcome.status === "replay") {
        return { turns: [], bytes: 0, replay: outcome.record, parked: null, commit: async () => undefined, release: async () => undefined };
      }
      const { token } = outcome;
      const renewing = setInterval(() => {
        home.renew(token).catch(() => undefined);
      }, RENEW_EVERY_MS);
      let ended = false;
      const end = () => {
        ended = true;
        clearInterval(renewing);
      };
      return {
        turns: JSON.parse(outcome.turns) as TurnRecord[],
        bytes: outcome.bytes,
        replay: null,
        parked: outcome.parked ? (JSON.parse(outcome.parked) as ParkedStep) : null,
        async commit(turn, products) {
          const result = await home.commit(token, { turn, products, maxBytes: options.maxBytes, ttlSeconds: options.ttlSeconds });
          if (result.status !== "ok") {
            // Refused for good (too large, deleted, lease lost): nothing was stored, and the line moves on.
            end();
            await home.release(token).catch(() => undefined);
            throw commitFailure(request.conversationId, result);
          }
          end();
        },
        async release() {
          if (ended) return;
          end();
          await home.release(token);
        },
      };
    },

    async read(tenant, conversationId) {
      const stored = await homeOf(env, tenant, conversationId).read(tenant, conversationId);
      return stored ? { turns: JSON.parse(stored.turns) as TurnRecord[], bytes: stored.bytes } : null;
    },

    remove: (tenant, conversationId) => homeOf(env, tenant, conversationId).remove(tenant, conversationId),

    async list(tenant, { limit, cursor }) {
      return directoryOf(env, tenant)
        .list(tenant, limit, cursor === undefined ? null : decodeCursor(cursor))
        .then((page) => ({
          conversations: page.conversations,
          cursor: page.cursor === null ? null : encodeCursor(page.cursor),
        }));
    },

    async response(tenant, responseId) {
      const hex = homeHexOf("resp", responseId);
      if (hex) return parsed<StoredResponse>(await homeByHex(env, hex)?.response(tenant, responseId));
      if (!LEGACY_RESPONSE_ID.test(responseId)) return null;
      return env.CONVERSATIONS.get<StoredResponse>(legacyResponseKey(tenant, responseId), "json");
    },

    async deleteResponse(tenant, responseId) {
      const hex = homeHexOf("resp", responseId);
      if (hex) return (await homeByHex(env, hex)?.deleteResponse(tenant, responseId)) ?? false;
      if (!LEGACY_RESPONSE_ID.test(responseId)) return false;
      const key = legacyResponseKey(tenant, responseId);
      if ((await env.CONVERSATIONS.get(key)) === null) return false;
      await env.CONVERSATIONS.delete(key);
      return true;
    },

    async mixedStep(tenant, callId) {
      const conversationId = conversationOfCall(callId);
      return conversationId ? parsed<MixedStep>(await homeOf(env, tenant, conversationId).mixedStep(tenant, callId)) : null;
    },

    responseToken: (tenant, conversationId) => `${homeId(env, tenant, conversationId).toString()}${randomToken(16)}`,

    async rescue(tenant, conversationId, turn, products) {
      const result = await homeOf(env, tenant, conversationId).commit(null, {
        owner: { tenant, conversationId },
        turn,
        products,
        maxBytes: options.maxBytes,
        ttlSeconds: options.ttlSeconds,
      });
      // Deleted or too large since: there is nothing left to keep it in, and retrying cannot change that.
      if (result.status !== "ok") console.warn(JSON.stringify({ event: "rescued_turn_refused", conversation_id: conversationId, status: result.status }));
    },
  };
}

/** Where a response stored before homes is kept until it expires. */
function legacyResponseKey(tenant: string, responseId: string): string {
  return `responses/${encodeURIComponent(tenant)}/${responseId}`;
}

function parsed<T>(text: string | null | undefined): T | null {
  return typeof text === "string" ? (JSON.parse(text) as T) : null;
}

function encodeCursor(after: string): string {
  return btoa(JSON.stringify({ after })).replace(/=+$/, "");
}

function decodeCursor(cursor: string): string {
  try {
    const parsed: unknown = JSON.parse(atob(cursor));
    const after = (parsed as { after?: unknown }).after;
    if (typeof after === "string" && after.length > 0 && after.length <= 128) return after;
  } catch {
    // Falls through to the error below.
  }
  throw new InvalidCursorError();
}
