// A stored turn as the conversation store keeps it: a question and its answer.

import type { TurnRecord } from "../../../src/conversations/turns.js";

export function turn(id: string, startedAt: number, text = id): TurnRecord {
  return {
    id,
    started_at: startedAt,
    completed_at: startedAt + 10,
    incomplete: false,
    messages: [
      { role: "user", content: `question ${text}` },
      { role: "assistant", content: `answer ${text}` },
    ],
  };
}
