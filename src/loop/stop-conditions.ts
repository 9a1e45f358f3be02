// The loop's bounds, each a named predicate so the loop reads as its rules.

import type { NormalizedToolCall } from "../protocol/normalize.js";

/** The model wants tools run: decided by the calls themselves, never by finish_reason. */
export function hasToolCalls(calls: readonly NormalizedToolCall[]): boolean {
  return calls.length > 0;
}

/** After `maxSteps` tool steps the next call is the last one, and it goes without tools. */
export function isFinalStep(step: number, maxSteps: number): boolean {
  return step > maxSteps;
}

/** Calls to the client's own functions end the turn: the client runs them, as with any OpenAI API. */
export function awaitsClient(clientCalls: readonly NormalizedToolCall[]): boolean {
  return clientCalls.length > 0;
}
