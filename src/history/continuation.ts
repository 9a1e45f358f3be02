// Continuing from a named turn (a Responses `previous_response_id`). A conversation does not fork,
// so only its latest complete turn can be continued; continuing an older one would silently hand
// the model the turns that came after it. A turn cut short after it (a stream that failed, a client
// that left) does not block it: the client saw that part, and it stays in the history.

import type { TurnRecord } from "../conversations/turns.js";

export class NotLatestTurnError extends Error {
  constructor(readonly turnId: string) {
    super(
      "This response is no longer the latest of its conversation: continue from the latest response, or start a new conversation with the history you want.",
    );
    this.name = "NotLatestTurnError";
  }
}

/** The conversation the response belonged to is gone (deleted, or expired). */
export class ContinuedTurnGoneError extends Error {
  constructor(readonly turnId: string) {
    super("The conversation of this response no longer exists: start a new one.");
    this.name = "ContinuedTurnGoneError";
  }
}

export function checkContinues(turns: readonly TurnRecord[], turnId: string): void {
  if (!turns.some((turn) => turn.id === turnId)) throw new ContinuedTurnGoneError(turnId);
  const latestComplete = turns.findLast((turn) => !turn.incomplete);
  if (latestComplete?.id !== turnId) throw new NotLatestTurnError(turnId);
}
