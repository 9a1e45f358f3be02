// What a conversation is made of, as every part of Switchboard sees it: turns, each a question and
// what the turn produced, and the summary a listing shows. Where they are kept is the home's
// business (home.ts); this file has no storage in it.

import type { ParkedStep } from "../approvals/types.js";
import type { MixedStep } from "../history/mixed-steps.js";
import type { ResponseObject } from "../protocol/responses/types.js";
import type { ChatMessage } from "../protocol/types.js";
import type { TerminalEvent } from "../runs/types.js";
import type { TurnTrace } from "../trace/turn-trace.js";

export interface TurnRecord {
  id: string;
  /** Epoch ms. */
  started_at: number;
  completed_at: number;
  /** True when the turn ended before the model answered (client went away mid-stream). */
  incomplete: boolean;
  /** How many of `messages` came from the request; the rest the turn produced. Absent in older turns. */
  input_count?: number;
  messages: ChatMessage[];
  /** What happened during the turn, as spans (src/trace/turn-trace.ts). Absent in older turns. */
  trace?: TurnTrace;
  /** The stored Responses API object that answered this turn, if any. */
  response_id?: string;
  /** A turn that parked for approval: what the client was told instead of a reply (the chat door's notice). */
  notice?: string;
  /** This turn continues a parked one (after its approvals were decided): its reply may never have reached the client that asked. */
  continues?: boolean;
}

/** A Responses API object as stored: the response the client received and the turn it answered. */
export interface StoredResponse {
  conversation_id: string;
  turn_id: string;
  response: ResponseObject;
}

/** Everything one turn produces beside its messages: committed with the turn, or not at all. */
export interface TurnProducts {
  response?: StoredResponse;
  /** A server-and-client step handed back to the client, for a stateless client continuing it. */
  mixedStep?: { callId: string; step: MixedStep };
  /** The answer an Idempotency-Key replays (its claim key, the record as JSON, how long it is kept). */
  idempotency?: { key: string; record: string; retainMs: number };
  /** The turn stopped before calls that wait for a person: its approvals and what it continues from. */
  parked?: ParkedStep;
  /** The run whose turn this is, and how it ends: recorded in the same transaction, so the turn is never run again after it is stored. */
  runEnd?: { runId: string; terminal: TerminalEvent };
}

/** One conversation as a listing shows it. */
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

/** Characters of the first user message kept as a conversation's title. */
export const TITLE_CHARS = 64;

export function messagesOf(turns: readonly TurnRecord[]): ChatMessage[] {
  return turns.flatMap((turn) => turn.messages);
}

/** The first user message's text, cut to TITLE_CHARS: what a person recognises a conversation by. */
export function titleOf(turns: readonly TurnRecord[]): string | null {
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

export class ConversationTooLargeError extends Error {
  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`The conversation would be ${bytes} bytes, over the ${maxBytes}-byte limit.`);
    this.name = "ConversationTooLargeError";
  }
}

/** Another turn holds the conversation and the queue behind it is full, or waiting took too long. */
export class ConversationBusyError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super("Another turn of this conversation is running and others are waiting for it; retry this one shortly.");
    this.name = "ConversationBusyError";
  }
}

/** The conversation was deleted, or belongs to someone else: nothing may read or continue it. */
export class ConversationGoneError extends Error {
  constructor(readonly conversationId: string) {
    super(`No conversation ${conversationId}.`);
    this.name = "ConversationGoneError";
  }
}
