// Idempotency-Key on the doors that run turns (chat completions, Responses): claimed in the ledger
// before the turn runs, settled with the answer to replay, released when the turn fails. The door
// names itself in the fingerprint, so a key cannot replay one door's answer on the other.

import type { Context } from "hono";
import type { TurnProducts } from "../conversations/turns.js";
import { ApiError, invalidRequest } from "../errors.js";
import type { IdempotencyCheck, IdempotentResponse, IdempotentRun } from "../idempotency.js";
import { claimIdempotencyKey, isValidIdempotencyKey } from "../idempotency.js";
import type { LedgerApi } from "../ledger/claims.js";
import { AlreadyAnsweredError } from "../run-turn.js";
import type { AppEnv } from "../types.js";

/** How long an Idempotency-Key claim outlives its turn's deadline before a retry may take it over. */
const LEASE_MARGIN_MS = 30_000;

export type IdempotentReplay = Extract<IdempotencyCheck, { kind: "replay" }>;

/** The request's claim, its replay, or null without a key; throws 422 / 409 as the key's state says. */
export async function checkIdempotencyKey(c: Context<AppEnv>, claims: LedgerApi, fingerprint: string): Promise<IdempotentRun | IdempotentReplay | null> {
  const key = c.req.header("Idempotency-Key");
  if (key === undefined) return null;
  if (!isValidIdempotencyKey(key)) throw invalidRequest("Idempotency-Key must be 1-255 visible ASCII characters.", "Idempotency-Key");
  const { turnDeadlineMs } = c.get("config").limits;
  // The lease outlives the turn's own deadline, so a live turn never loses its claim.
  const check = await claimIdempotencyKey(claims, c.get("tenant"), key, fingerprint, { leaseMs: turnDeadlineMs + LEASE_MARGIN_MS, waitMs: turnDeadlineMs });
  if (check.kind === "mismatch") {
    throw new ApiError(422, "This Idempotency-Key was used with a different request body.", { type: "invalid_request_error", code: "idempotency_key_reused" });
  }
  if (check.kind === "busy") {
    const message = check.failed
      ? "The request with this Idempotency-Key failed while this one waited for it; nothing was stored. Retry it."
      : "A request with this Idempotency-Key is still running; retry when it has finished.";
    throw new ApiError(409, message, { code: "idempotency_key_in_use", headers: { "Retry-After": String(check.retryAfterSeconds) } });
  }
  return check;
}

/** The answer to replay, committed with the turn in its conversation's home: the truth when the claim's own record is lost. */
export function idempotentProduct(c: Context<AppEnv>, check: IdempotentRun | null, record: IdempotentResponse): TurnProducts {
  if (!check) return {};
  return { idempotency: { key: check.claim, record: JSON.stringify(record), retainMs: c.get("config").idempotencyTtlSeconds * 1000 } };
}

/** A turn whose conversation had already committed this key's answer: the claim is settled with it, and it is replayed. */
export function replayedRecord(error: unknown): IdempotentResponse | null {
  return error instanceof AlreadyAnsweredError ? (JSON.parse(error.record) as IdempotentResponse) : null;
}

export function rememberIdempotent(c: Context<AppEnv>, claims: LedgerApi, check: IdempotentRun | null, record: IdempotentResponse): void {
  if (!check) return;
  const retainMs = c.get("config").idempotencyTtlSeconds * 1000;
  // A key that cannot be settled (the ledger unreachable, a response over its 2 MB row) is released:
  // a retry then runs again, rather than waiting out the lease.
  const settled = claims.settle(check.claim, check.token, JSON.stringify(record), retainMs).catch((error: unknown) => {
    c.get("log").warn("idempotency_not_settled", { message: error instanceof Error ? error.message : String(error) });
    return claims.release(check.claim, check.token);
  });
  c.executionCtx.waitUntil(settled.catch(() => undefined));
}

/** Claims already released in this isolate: several failure paths may report the same failure. */
const released = new WeakSet<IdempotentRun>();

export function forgetIdempotent(c: Context<AppEnv>, claims: LedgerApi, check: IdempotentRun | null): void {
  if (!check || released.has(check)) return;
  released.add(check);
  c.executionCtx.waitUntil(claims.release(check.claim, check.token).catch(() => undefined));
}
