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

/** The ledger's record of what happened: entries under a key, each kept until it expires. */
export interface JournalApi {
  record(key: string, entry: string, value: string, retainMs: number): Promise<void>;
  entries(key: string): Promise<string[]>;
  retain(key: string, entry: string, retainMs: number): Promise<void>;
  forget(key: string): Promise<number>;
}

export type ClaimKind = "idempotency" | "webhook-delivery" | "webhook-turn" | "webhook-callback" | "conversation";

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

/** The journal through the ledger namespace: one object per key, like claims. */
export function createJournal(namespace: DurableObjectNamespace<Ledger>): JournalApi {
  const ledger = (key: string) => namespace.get(namespace.idFromName(key));
  return {
    record: (key, entry, value, retainMs) => ledger(key).record(key, entry, value, retainMs),
    entries: (key) => ledger(key).entries(key),
    retain: (key, entry, retainMs) => ledger(key).retain(key, entry, retainMs),
    forget: (key) => ledger(key).forget(key),
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
