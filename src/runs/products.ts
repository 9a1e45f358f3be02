// What a door keeps beside its turn, computed where the run ends so it commits with the turn: the
// Responses object (as its view built it), and the answer an Idempotency-Key replays, shaped as
// the door answered it.

import type { TurnProducts } from "../conversations/turns.js";
import type { IdempotentResponse } from "../idempotency.js";
import type { ChatCompletion } from "../protocol/types.js";
import type { CompletedTurn } from "../run-turn.js";
import type { ResponsesView } from "./responses-view.js";
import type { RunSpec } from "./types.js";

export function doorProducts(spec: RunSpec, view: ResponsesView | null, completed: CompletedTurn): TurnProducts {
  const conversationId = spec.turn.conversationId;
  let record: IdempotentResponse;
  const products: TurnProducts = {};
  if (spec.door.kind === "responses" && view) {
    const response = view.finished({ completion: completed.completion, usage: completed.usage, steps: completed.steps, toolInvocations: 0 });
    if (spec.turn.store !== false) products.response = { conversation_id: conversationId, turn_id: completed.turn.id, response };
    record = { stream: spec.door.stream, include_usage: false, response, conversation_id: spec.door.kept ? conversationId : "" };
  } else {
    const include = spec.door.kind === "chat" && spec.door.includeUsage;
    record = chatRecord(completed.completion, conversationId, spec.door.stream, include);
  }
  if (spec.idempotency) products.idempotency = { key: spec.idempotency.key, record: JSON.stringify(record), retainMs: spec.idempotency.retainMs };
  return products;
}

export function chatRecord(completion: ChatCompletion, conversationId: string, stream: boolean, includeUsage: boolean): IdempotentResponse {
  return { stream, include_usage: includeUsage, response: { ...completion, conversation_id: conversationId }, conversation_id: conversationId };
}
