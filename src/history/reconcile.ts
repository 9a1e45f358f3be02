// Histories that real clients send. With a conversation_id, the documented way is to send only what
// is new; the OpenAI Agents SDK, pydantic-ai and LangChain resend the whole list on every request
// instead (system prompt included), and some resend only a window of it. The conversation already
// holds that history, so the request is reconciled with what the client saw of it: the known part
// is recognised and neither stored nor sent to the model twice; only what is new is appended.
//
// What the client saw is each turn's input plus the reply it received: never the server tools'
// calls and results, which stay between the orchestrator and the model. A streamed reply may also
// have carried the text the model wrote before its tool steps, and a stream cut short carried only
// part of a reply, which clients may keep or drop; both forms are recognised.
//
// The system prompt is the request's own: agent frameworks rebuild it per request (a date, the
// user's name), so the leading system messages are matched apart from the rest. Equal to the
// conversation's, they are dropped; different, they replace the stored prompt for this turn.
//
// A request that resends the history but contradicts it (an edited message, a dropped one) is
// refused with 409 naming the first differing message. A conversation does not fork: to branch, a
// client starts a new conversation (no conversation_id) and sends the history it wants.

import type { TurnRecord } from "../conversations/turns.js";
import type { AssistantMessage, ChatMessage } from "../protocol/types.js";
import { sameMessage } from "./compare.js";

export class HistoryConflictError extends Error {
  constructor(
    /** Index in the request's `messages` of the first message that disagrees with the conversation. */
    readonly index: number,
    message: string,
  ) {
    super(message);
    this.name = "HistoryConflictError";
  }
}

/** One message the client saw, in every form it may send it back in; `optional` when it may be left out. */
interface Seen {
  forms: ChatMessage[];
  optional: boolean;
}

export interface Reconciled {
  /** What is new: to append to the conversation and send after its history. */
  input: ChatMessage[];
  /** The request's system prompt when it differs from the conversation's: the model gets it instead. */
  system: ChatMessage[] | null;
}

/** The messages of a turn as the client saw them: its input, then the reply it received. */
export function clientViewOf(turn: TurnRecord): ChatMessage[] {
  return viewOf(turn).map((seen) => seen.forms[0]!);
}

export function reconcileInput(turns: readonly TurnRecord[], messages: readonly ChatMessage[]): Reconciled {
  const view = turns.flatMap(viewOf);
  const storedSystem = leadingSystem(view.map((seen) => seen.forms[0]!));
  const requestSystem = leadingSystem(messages);
  const system = requestSystem.length > 0 && !sameList(requestSystem, storedSystem) ? [...requestSystem] : null;
  const seen = view.slice(storedSystem.length);
  const rest = messages.slice(requestSystem.length);
  const offset = requestSystem.length;
  if (seen.length === 0) return { input: [...rest], system: null };

  // The whole history resent, with what is new after it.
  const whole = align(seen, rest);
  if (whole.complete) {
    if (whole.consumed < rest.length) return { input: rest.slice(whole.consumed), system };
    throw new HistoryConflictError(
      offset + rest.length - 1,
      "Every message of this request is already in the conversation: send only new messages, or the history followed by new ones.",
    );
  }
  // Only a window of the history resent (a framework trimming what it sends), then what is new.
  const overlap = tailOverlap(seen, rest);
  if (overlap > 0) return { input: rest.slice(overlap), system };

  if (resendsHistory(seen, rest)) {
    const index = offset + whole.consumed;
    if (whole.consumed >= rest.length) {
      throw new HistoryConflictError(
        offset + rest.length - 1,
        "This request resends part of the conversation and nothing new: send only new messages, or the history followed by new ones.",
      );
    }
    throw new HistoryConflictError(
      index,
      `messages[${index}] differs from the stored conversation at that point. A conversation cannot be rewritten: send only new messages, or start a new conversation (omit conversation_id) with the history you want.`,
    );
  }
  // New messages only.
  return { input: [...rest], system };
}

function viewOf(turn: TurnRecord): Seen[] {
  const inputCount = turn.input_count ?? legacyInputCount(turn.messages);
  const input: Seen[] = turn.messages.slice(0, inputCount).map((message) => ({ forms: [message], optional: false }));
  const produced = turn.messages.slice(inputCount);
  // A parked turn's client was told what waits for approval; a client may keep that, or not.
  if (turn.notice !== undefined) return [...input, { forms: [{ role: "assistant", content: turn.notice }], optional: true }];
  const reply = replyOf(produced);
  if (!reply) return input;
  const forms: ChatMessage[] = [reply];
  // Streamed, the reply came after the text of every earlier step: a client may keep it all as one message.
  const streamedText = produced.flatMap((message) => (message.role === "assistant" && typeof message.content === "string" ? [message.content] : [])).join("");
  if (!reply.tool_calls && streamedText !== reply.content) forms.push({ ...reply, content: streamedText });
  // A continued turn's answer went to the conversation, not necessarily to the client that asked.
  return [...input, { forms, optional: turn.incomplete || turn.continues === true }];
}

function replyOf(produced: readonly ChatMessage[]): AssistantMessage | null {
  const index = produced.findLastIndex((message) => message.role === "assistant");
  if (index < 0) return null;
  const last = produced[index] as AssistantMessage;
  const answered = new Set(produced.flatMap((message) => (message.role === "tool" ? [message.tool_call_id] : [])));
  const open = (last.tool_calls ?? []).filter((call) => !answered.has(call.id));
  const { tool_calls: _calls, ...rest } = last;
  if (open.length > 0) return { ...rest, tool_calls: open };
  // A step whose calls were all the server's is not a reply: the client never saw it.
  if ((last.tool_calls?.length ?? 0) > 0) return null;
  return rest as AssistantMessage;
}

/**
 * Turns stored before input_count existed. What the turn produced starts with the model's first
 * message and never holds a user or system message; so the input runs to the last of those, plus
 * the tool results right after it that answer calls no later assistant message made.
 */
function legacyInputCount(messages: readonly ChatMessage[]): number {
  const lastPrompt = messages.findLastIndex((message) => message.role === "user" || message.role === "system" || message.role === "developer");
  let end = lastPrompt + 1;
  const laterCalls = new Set(messages.slice(end).flatMap((message) => (message.role === "assistant" ? (message.tool_calls ?? []).map((call) => call.id) : [])));
  while (end < messages.length && messages[end]!.role === "tool" && !laterCalls.has((messages[end] as { tool_call_id: string }).tool_call_id)) end++;
  return end;
}

/**
 * Walks the request along what the client saw. Runs of tool results are compared as sets (a client
 * may answer calls in any order; the stored turn holds them in call order), and a part that may
 * have been dropped (a cut stream's text) is skipped when the request does not hold it.
 */
function align(seen: readonly Seen[], messages: readonly ChatMessage[]): { consumed: number; complete: boolean } {
  let at = 0;
  for (let index = 0; index < seen.length; ) {
    const run = toolRun(seen, index);
    if (run > 0) {
      const stored = seen.slice(index, index + run).map((entry) => entry.forms[0]!);
      const sent = messages.slice(at, at + run);
      if (sent.length < run || !sameSet(stored, sent)) return { consumed: at, complete: false };
      index += run;
      at += run;
      continue;
    }
    const entry = seen[index]!;
    const message = messages[at];
    if (message && entry.forms.some((form) => sameMessage(form, message))) {
      at++;
    } else if (!entry.optional) {
      return { consumed: at, complete: false };
    }
    index++;
  }
  return { consumed: at, complete: true };
}

/** The longest window: the history's last messages are the request's first ones, and more follows. */
function tailOverlap(seen: readonly Seen[], messages: readonly ChatMessage[]): number {
  for (let start = 1; start < seen.length; start++) {
    const window = seen.slice(start);
    if (!window.some((entry) => !entry.optional && entry.forms[0]!.role === "assistant")) break;
    const { consumed, complete } = align(window, messages);
    if (complete && consumed > 0 && consumed < messages.length) return consumed;
  }
  return 0;
}

/** The request holds part of this conversation: it starts like it, or repeats one of its replies. */
function resendsHistory(seen: readonly Seen[], messages: readonly ChatMessage[]): boolean {
  if (!messages.some((message) => message.role === "assistant")) return false;
  const first = messages[0];
  if (first && seen[0]!.forms.some((form) => sameMessage(form, first))) return true;
  const replies = seen.flatMap((entry) => entry.forms).filter((form) => form.role === "assistant");
  return messages.some((message) => message.role === "assistant" && replies.some((reply) => sameMessage(reply, message)));
}

function toolRun(seen: readonly Seen[], index: number): number {
  let end = index;
  while (end < seen.length && seen[end]!.forms[0]!.role === "tool") end++;
  return end - index;
}

function sameSet(stored: readonly ChatMessage[], sent: readonly ChatMessage[]): boolean {
  const remaining = [...stored];
  for (const message of sent) {
    const match = remaining.findIndex((candidate) => sameMessage(candidate, message));
    if (match < 0) return false;
    remaining.splice(match, 1);
  }
  return remaining.length === 0;
}

function sameList(left: readonly ChatMessage[], right: readonly ChatMessage[]): boolean {
  return left.length === right.length && left.every((message, index) => sameMessage(message, right[index]!));
}

/** The system (or developer) messages a list starts with: its system prompt. */
export function leadingSystem(messages: readonly ChatMessage[]): ChatMessage[] {
  const end = messages.findIndex((message) => message.role !== "system" && message.role !== "developer");
  return messages.slice(0, end < 0 ? messages.length : end);
}
