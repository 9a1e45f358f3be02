// Before any model call, the history must be one a strict upstream accepts: every assistant tool
// call answered right after it, in call order, and no answer without its call. What the
// conversation itself holds is repaired (a call the client never answered gets an error result the
// model can read); what the request brings is the client's to fix, so it is refused with a 400 that
// names the tool_call_id, instead of the model's 400 after a billed call.

import type { ChatMessage, ToolMessage } from "../protocol/types.js";

export class InvalidHistoryError extends Error {
  constructor(
    message: string,
    /** Where in the request: `messages[3]`. */
    readonly param: string,
  ) {
    super(message);
    this.name = "InvalidHistoryError";
  }
}

export interface CheckedHistory {
  history: ChatMessage[];
  input: ChatMessage[];
}

export function checkToolCallPairs(history: readonly ChatMessage[], input: readonly ChatMessage[]): CheckedHistory {
  const repairedHistory: ChatMessage[] = [];
  const checkedInput: ChatMessage[] = [];
  const all = [...history, ...input];
  const inInput = (index: number) => index >= history.length;
  const push = (index: number, ...messages: ChatMessage[]) => (inInput(index) ? checkedInput : repairedHistory).push(...messages);

  for (let index = 0; index < all.length; ) {
    const message = all[index]!;
    if (message.role === "tool") {
      if (inInput(index)) {
        throw new InvalidHistoryError(
          `messages[${index - history.length}] answers tool_call_id "${message.tool_call_id}", which no assistant message right before it called.`,
          `messages[${index - history.length}]`,
        );
      }
      index++; // a stray stored answer: dropped, the model never needs it
      continue;
    }
    push(index, message);
    const calls = message.role === "assistant" ? (message.tool_calls ?? []) : [];
    index++;
    if (calls.length === 0) continue;

    // The answers that follow, until the next message that is not one.
    const answers = new Map<string, { message: ToolMessage; index: number }>();
    for (; index < all.length && all[index]!.role === "tool"; index++) {
      const answer = all[index] as ToolMessage;
      const known = calls.some((call) => call.id === answer.tool_call_id);
      if (!known || answers.has(answer.tool_call_id)) {
        if (!inInput(index)) continue;
        const problem = known ? "answers it a second time" : "answers a call that the assistant message before it did not make";
        throw new InvalidHistoryError(
          `messages[${index - history.length}] (tool_call_id "${answer.tool_call_id}") ${problem}.`,
          `messages[${index - history.length}]`,
        );
      }
      answers.set(answer.tool_call_id, { message: answer, index });
    }
    const callIndex = index - answers.size - 1;
    for (const call of calls) {
      const answer = answers.get(call.id);
      if (answer) push(answer.index, answer.message);
      else if (inInput(callIndex)) throw unanswered(call.id, callIndex - history.length);
      else push(callIndex, notAnswered(call.id));
    }
  }
  return { history: repairedHistory, input: checkedInput };
}

function unanswered(id: string, index: number): InvalidHistoryError {
  return new InvalidHistoryError(
    `The tool call "${id}" in messages[${index}] has no answer: send a message with role "tool" and tool_call_id "${id}" right after it.`,
    `messages[${index}]`,
  );
}

function notAnswered(id: string): ToolMessage {
  return {
    role: "tool",
    tool_call_id: id,
    content: JSON.stringify({ error: { type: "not_answered", message: "The client did not answer this call; it was not run." } }),
  };
}
