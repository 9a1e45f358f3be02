// Histories that real clients send. With a conversation_id, the documented way is to send only what
// is new; the OpenAI Agents SDK, pydantic-ai and LangChain resend the whole list on every request
// instead (system prompt included), and some resend only its tail. The conversation already holds
// that history, so the request is reconciled with what the client saw of it: the known part is
// recognised and neither stored nor sent to the model twice; only what is new is appended.
//
// What the client saw is each turn's input plus the reply it received: never the server tools'
// calls and results, which stay between the orchestrator and the model.
//
// A request that resends the history but contradicts it (an edited message, a dropped one) is
// refused with 409 naming the first differing message. A conversation does not fork: to branch, a
// client starts a new conversation (no conversation_id) and sends the history it wants.

import type { TurnRecord } from "../conversations/store.js";
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

/** The messages of a turn as the client saw them: its input, then the reply it received. */
export function clientViewOf(turn: TurnRecord): ChatMessage[] {
  const inputCount = turn.input_count ?? leadingInputCount(turn.messages);
  const input = turn.messages.slice(0, inputCount);
  const produced = turn.messages.slice(inputCount);
  const reply = replyOf(produced);
  return reply ? [...input, reply] : input;
}

/** The new messages of a request, once what the conversation already holds is recognised. */
export function reconcileInput(turns: readonly TurnRecord[], messages: readonly ChatMessage[]): ChatMessage[] {
  const seen = turns.flatMap(clientViewOf);
  if (seen.length === 0) return [...messages];
  const prefix = commonPrefix(seen, messages);

  // The whole history resent, with what is new after it.
  if (prefix === seen.length) {
    if (messages.length > seen.length) return messages.slice(seen.length);
    throw new HistoryConflictError(
      messages.length - 1,
      "Every message of this request is already in the conversation: send only new messages, or the history followed by new ones.",
    );
  }
  // Only the tail of the history resent (a framework trimming to a window), then what is new.
  const overlap = tailOverlap(seen, messages);
  if (overlap > 0) return messages.slice(overlap);

  const resent = messages.some((message) => message.role === "assistant") && (startsAlike(seen, messages) || repeatsAReply(seen, messages));
  if (resent) {
    if (prefix === messages.length) {
      throw new HistoryConflictError(
        messages.length - 1,
        "This request resends part of the conversation and nothing new: send only new messages, or the history followed by new ones.",
      );
    }
    throw new HistoryConflictError(
      prefix,
      `messages[${prefix}] differs from message ${prefix} of the stored conversation. A conversation cannot be rewritten: send only new messages, or start a new conversation (omit conversation_id) with the history you want.`,
    );
  }
  // New messages only, perhaps behind the same system prompt the conversation started with.
  const system = leadingSystemCount(messages);
  if (system > 0 && system === leadingSystemCount(seen) && commonPrefix(seen, messages.slice(0, system)) === system) return messages.slice(system);
  return [...messages];
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

/** Turns stored before input_count existed: their input is what precedes the first assistant message. */
function leadingInputCount(messages: readonly ChatMessage[]): number {
  const index = messages.findIndex((message) => message.role === "assistant");
  return index < 0 ? messages.length : index;
}

function commonPrefix(left: readonly ChatMessage[], right: readonly ChatMessage[]): number {
  let index = 0;
  while (index < left.length && index < right.length && sameMessage(left[index]!, right[index]!)) index++;
  return index;
}

/** The longest k such that the history's last k messages are the request's first k (and more follows). */
function tailOverlap(seen: readonly ChatMessage[], messages: readonly ChatMessage[]): number {
  for (let k = Math.min(seen.length, messages.length - 1); k > 0; k--) {
    const head = messages.slice(0, k);
    if (!head.some((message) => message.role === "assistant")) continue;
    if (commonPrefix(seen.slice(seen.length - k), head) === k) return k;
  }
  return 0;
}

/** Both begin their conversation (after any system prompt) with the same message. */
function startsAlike(seen: readonly ChatMessage[], messages: readonly ChatMessage[]): boolean {
  const first = messages[leadingSystemCount(messages)];
  const stored = seen[leadingSystemCount(seen)];
  return first !== undefined && stored !== undefined && sameMessage(first, stored);
}

/** The request holds an assistant reply of this conversation: only a client resending it has one. */
function repeatsAReply(seen: readonly ChatMessage[], messages: readonly ChatMessage[]): boolean {
  const replies = seen.filter((message) => message.role === "assistant");
  return messages.some((message) => message.role === "assistant" && replies.some((reply) => sameMessage(reply, message)));
}

function leadingSystemCount(messages: readonly ChatMessage[]): number {
  const index = messages.findIndex((message) => message.role !== "system" && message.role !== "developer");
  return index < 0 ? messages.length : index;
}
