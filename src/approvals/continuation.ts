// The run that continues a parked turn when nobody is connected to ask for it: a decision through
// the Approvals API, or an expiry. It is made from the run that parked (same tools, model,
// parameters and approval rules; same door, so a Responses turn gets its next response and a
// webhook turn its callback), runs in the background, and its answer lands in the conversation.

import { randomToken } from "../lib/ids.js";
import type { RunSpec } from "../runs/types.js";

/** `token` names the home (as a response id's does): a Responses continuation's response id is `resp_<token>`. */
export function continuationSpec(origin: RunSpec, token: string, now: number): RunSpec {
  const id = `turn_${randomToken(16)}`;
  const { idempotencyKey: _key, continuesTurn: _continues, newConversation: _new, responseId: _response, meters, ...turn } = origin.turn;
  const door: RunSpec["door"] =
    origin.door.kind === "responses"
      ? {
          kind: "responses",
          shell: {
            ...origin.door.shell,
            id: `resp_${token}`,
            previous_response_id: origin.door.shell.id,
            background: true,
            created_at: Math.floor(now / 1000),
          },
          token,
          stream: false,
          kept: true,
        }
      : { kind: "chat", stream: false, includeUsage: false };
  return {
    id,
    background: true,
    createdAt: now,
    door,
    turn: {
      ...turn,
      input: [],
      turnId: id,
      reconcile: false,
      continueParked: true,
      ...(door.kind === "responses" ? { responseId: door.shell.id } : {}),
      // Metered by the same objects; the request's concurrency slots went back when the parked run ended.
      ...(meters ? { meters: meters.map(({ slot: _slot, ...meter }) => meter) } : {}),
    },
    ...(origin.notify ? { notify: origin.notify } : {}),
  };
}
