// The caller's side of the ledger: claim a key, then settle it with a result or release it. Results
// are JSON; the ledger keeps them as text. Every caller names its claims with claimKey() so the
// kinds of claim can never collide.

import type { Ledger } from "./ledger.js";

export interface ClaimOptions {
  /** How long the claim holds without being settled: past this, the holder is presumed dead. */
  leaseMs: number;
  /** A duplicate of work in flight waits up to this long (and never past the lease) for its outcome. */
  waitMs?: number;
}

export type ClaimOutcome =
  /** Yours: do the work, then settle or release. `takeover` when a dead holder's lease ran out. */
  | { status: "claimed"; token: string; takeover: boolean }
  /** Someone else holds it; `same` when their fingerprint matches yours. */
  | { status: "running"; same: boolean; retryAfterMs: number }
  /** Done already; the settled result when `same`. */
  | { status: "done"; same: boolean; result: string | null }
  /** The holder you waited on gave up (its work failed): nothing was done. */
  | { status: "released" };

/** The ledger Durable Object's RPC surface. */
export interface LedgerApi {
  claim(key: string, fingerprint: string, options: ClaimOptions): Promise<ClaimOutcome>;
  settle(key: string, token: string, result: string | null, retainMs: number): Promise<boolean>;
  release(key: string, token: string): Promise<boolean>;
}

export type ClaimKind = "idempotency" | "webhook-delivery" | "webhook-turn" | "webhook-callback";

export function claimKey(kind: ClaimKind, ...parts: string[]): string {
  return [kind, ...parts.map(encodeURIComponent)].join(":");
}

/** Claims through the ledger namespace: one object per key. */
export function createClaims(namespace: DurableObjectNamespace<Ledger>): LedgerApi {
  const ledger = (key: string) => namespace.get(namespace.idFromName(key));
  return {
    claim: (key, fingerprint, options) => ledger(key).claim(key, fingerprint, options),
    settle: (key, token, result, retainMs) => ledger(key).settle(key, token, result, retainMs),
    release: (key, token) => ledger(key).release(key, token),
  };
}

export function parseResult<T>(outcome: Extract<ClaimOutcome, { status: "done" }>): T | null {
  if (outcome.result === null) return null;
  try {
    return JSON.parse(outcome.result) as T;
  } catch {
    return null;
  }
}
