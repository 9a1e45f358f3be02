// What a door keeps beside its turn, computed where the run ends so it commits with the turn: the
// Responses object (as its view built it), and the answer an Idempotency-Key replays, shaped as
// the door answered it.

import type { TurnProducts } from "../conversations/turns.js";
import type { IdempotentResponse } from "../idempotency.js";
import type { ResponseObject } from "../protocol/responses/types.js";
import type { ChatCompletion } from "../protocol/types.js";
import type { CompletedTurn } from "../run-turn.js";
import type { ResponsesView } from "./responses-view.js";
import type { ResponsesDoor, RunSpec } from "./types.js";

export function doorProducts(spec: RunSpec, view: ResponsesView | null, completed: CompletedTurn): TurnProducts {
  const products: TurnProducts = {};
  const record = doorRecord(spec, view, completed);
  if (spec.door.kind === "responses" && view && spec.turn.store !== false) {
    products.response = { conversation_id: spec.turn.conversationId, turn_id: completed.turn.id, response: record.response as ResponseObject };
  }
  if (spec.idempotency) products.idempotency = { key: spec.idempotency.key, record: JSON.stringify(record), retainMs: spec.idempotency.retainMs };
  return products;
}

/** The answer as the door gave it, which its Idempotency-Key replays. */
export function doorRecord(spec: RunSpec, view: ResponsesView | null, result: Pick<CompletedTurn, "completion" | "usage">): IdempotentResponse {
  const conversationId = spec.turn.conversationId;
  if (spec.door.kind === "responses" && view) {
    return responsesRecord(spec.door, conversationId, view.finished({ completion: result.completion, usage: result.usage, steps: 0, toolInvocations: 0 }));
  }
  const door = spec.door;
  return chatRecord(result.completion, conversationId, door.kind !== "mcp_task" && door.stream, door.kind === "chat" && door.includeUsage);
}

/** The Responses door's answer as its Idempotency-Key replays it. */
export function responsesRecord(door: Pick<ResponsesDoor, "stream" | "kept">, conversationId: string, response: ResponseObject): IdempotentResponse {
  return { stream: door.stream, include_usage: false, response, conversation_id: door.kept ? conversationId : "" };
}

export function chatRecord(completion: ChatCompletion, conversationId: string, stream: boolean, includeUsage: boolean): IdempotentResponse {
  return { stream, include_usage: includeUsage, response: { ...completion, conversation_id: conversationId }, conversation_id: conversationId };
}
