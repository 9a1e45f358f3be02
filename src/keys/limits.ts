// The arithmetic of a key's limits, apart from where it is kept: a token bucket per key for requests
// per minute (full at the limit, refilled continuously, so a burst gets exactly the limit through and
// then one request every 60/limit seconds), and the headers OpenAI sends with its answers.

/** What an operator may bound per key; each is optional. */
export interface KeyLimits {
  requests_per_minute?: number;
  concurrent_turns?: number;
  /** Input + output tokens per UTC day, as the upstream reports them. */
  tokens_per_day?: number;
  /** USD per UTC day and per UTC month, from MODEL_PRICES. */
  spend_usd_per_day?: number;
  spend_usd_per_month?: number;
}

const WHOLE_LIMITS = ["requests_per_minute", "concurrent_turns", "tokens_per_day"];
const AMOUNT_LIMITS = ["spend_usd_per_day", "spend_usd_per_month"];

/** Whether a key's limits make each model call reserve before it runs. */
export function hasBudget(limits: KeyLimits): boolean {
  return limits.tokens_per_day !== undefined || limits.spend_usd_per_day !== undefined || limits.spend_usd_per_month !== undefined;
}

export interface Bucket {
  tokens: number;
  at: number;
}

export interface Taken {
  ok: boolean;
  bucket: Bucket;
  /** Whole requests left after this one. */
  remaining: number;
  /** When the next request would be let through (0 when one is now). */
  retryAfterMs: number;
  /** When the bucket is full again. */
  resetMs: number;
}

const MINUTE_MS = 60_000;

/** Takes one request from the bucket (a missing bucket is full). */
export function takeRequest(bucket: Bucket | null, limit: number, now: number): Taken {
  const perMs = limit / MINUTE_MS;
  const tokens = bucket === null ? limit : Math.min(limit, bucket.tokens + Math.max(0, now - bucket.at) * perMs);
  const ok = tokens >= 1;
  const left = ok ? tokens - 1 : tokens;
  return {
    ok,
    bucket: { tokens: left, at: now },
    remaining: Math.floor(left),
    retryAfterMs: left >= 1 ? 0 : Math.ceil((1 - left) / perMs),
    resetMs: Math.ceil((limit - left) / perMs),
  };
}

/** A duration as OpenAI writes it in `x-ratelimit-reset-*`: `120ms`, `6s`, `1m0s`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const seconds = Math.ceil(ms / 1000);
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}

/** The `x-ratelimit-*-requests` headers of an answer under a requests limit. */
export function requestHeaders(limit: number, taken: Taken): Record<string, string> {
  return {
    "x-ratelimit-limit-requests": String(limit),
    "x-ratelimit-remaining-requests": String(taken.remaining),
    "x-ratelimit-reset-requests": duration(taken.resetMs),
  };
}

/** Checks limits an operator sends: counts are whole numbers from 1, amounts positive USD; null removes one. The problem, or null. */
export function limitsProblem(value: unknown): string | null {
  if (value === undefined) return null;
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "limits must be an object";
  for (const [name, limit] of Object.entries(value)) {
    const whole = WHOLE_LIMITS.includes(name);
    if (!whole && !AMOUNT_LIMITS.includes(name)) return `limits.${name} is not a limit Switchboard knows (${[...WHOLE_LIMITS, ...AMOUNT_LIMITS].join(", ")})`;
    if (limit === null) continue;
    const fits = whole ? Number.isSafeInteger(limit) && (limit as number) >= 1 : typeof limit === "number" && Number.isFinite(limit) && limit > 0;
    if (!fits) return `limits.${name} must be ${whole ? "a whole number from 1" : "a positive amount in USD"}, or null to remove it`;
  }
  return null;
}

/** Limits with `null` entries removed (a PATCH that removes one). */
export function mergeLimits(current: KeyLimits, change: Record<string, number | null>): KeyLimits {
  const next: Record<string, number> = { ...current } as Record<string, number>;
  for (const [name, limit] of Object.entries(change)) {
    if (limit === null) delete next[name];
    else next[name] = limit;
  }
  return next as KeyLimits;
}

/** Periods are the object's own clock, in UTC: a location whose clock is off cannot reset one early. */
export function dayStart(now: number): number {
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
}

export function monthStart(now: number): number {
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
}

export function nextMonthStart(now: number): number {
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
}

export const DAY_MS = 86_400_000;
