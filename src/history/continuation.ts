// Continuing from a named turn (a Responses `previous_response_id`). A conversation does not fork,
// so only its latest turn can be continued; continuing an older one would silently hand the model
// the turns that came after it.

import type { TurnRecord } from "../conversations/store.js";

export class NotLatestTurnError extends Error {
  constructor(readonly turnId: string) {
    super(
      "This response is no longer the latest of its conversation: continue from the latest response, or start a new conversation with the history you want.",
    );
    this.name = "NotLatestTurnError";
  }
}

export function checkContinues(turns: readonly TurnRecord[], turnId: string): void {
  if (turns.at(-1)?.id !== turnId) throw new NotLatestTurnError(turnId);
}
