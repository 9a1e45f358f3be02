// Idempotency-Key for POST /v1/chat/completions, claimed in the ledger (a Durable Object), so the
// claim holds across every location at once. The first request with a key claims it and runs; a
// duplicate that arrives meanwhile waits for that result and replays it; a finished one replays; a
// failed one releases the key so the client may retry. The same key with another body is refused.
//
// A key also fixes the turn: the retry of a failed request runs the same turn id in the same
// conversation, so the idempotency keys its tools receive repeat and no side effect happens twice.

import type { ClaimOutcome, LedgerApi } from "./ledger/claims.js";
import { claimKey, parseResult } from "./ledger/claims.js";
import { sha256Hex } from "./lib/hash.js";

export interface IdempotentResponse {
  stream: boolean;
  include_usage: boolean;
  response: unknown;
  conversation_id: string;
}

export interface IdempotentRun {
  kind: "new";
  claim: string;
  token: string;
  /** The turn this key runs; the same on every retry of the key. */
  turnId: string;
  /** The conversation a request without conversation_id starts; the same on every retry. */
  conversationId: string;
}

export type IdempotencyCheck =
  | IdempotentRun
  | { kind: "replay"; record: IdempotentResponse }
  | { kind: "mismatch" }
  /** Still running after waiting as long as allowed; or it failed while we waited. */
  | { kind: "busy"; retryAfterSeconds: number; failed: boolean };

const SANE_KEY = /^[\x21-\x7e]{1,255}$/;

export function isValidIdempotencyKey(key: string): boolean {
  return SANE_KEY.test(key);
}

export async function claimIdempotencyKey(
  claims: LedgerApi,
  tenant: string,
  key: string,
  body: string,
  options: { leaseMs: number; waitMs: number },
): Promise<IdempotencyCheck> {
  const bodyDigest = await sha256Hex(body);
  const claim = claimKey("idempotency", tenant, await sha256Hex(`${tenant}\n${key}`));
  const outcome = await claims.claim(claim, bodyDigest, options);
  // The turn and conversation follow from the key and the body together: the same request retried
  // is the same turn; the key reused for another request after it expired is a new conversation.
  return interpret(outcome, claim, await sha256Hex(`${tenant}\n${key}\n${bodyDigest}`));
}

function interpret(outcome: ClaimOutcome, claim: string, digest: string): IdempotencyCheck {
  switch (outcome.status) {
    case "claimed":
      return { kind: "new", claim, token: outcome.token, turnId: `turn_idem_${digest.slice(0, 24)}`, conversationId: `conv_${digest.slice(24, 48)}` };
    case "done": {
      if (!outcome.same) return { kind: "mismatch" };
      const record = parseResult<IdempotentResponse>(outcome);
      // Settled without a replayable body: report it as finished-but-busy rather than run it again.
      return record ? { kind: "replay", record } : { kind: "busy", retryAfterSeconds: 1, failed: false };
    }
    case "running":
      return outcome.same ? { kind: "busy", retryAfterSeconds: Math.ceil(outcome.retryAfterMs / 1000), failed: false } : { kind: "mismatch" };
    case "released":
      return { kind: "busy", retryAfterSeconds: 1, failed: true };
  }
}
