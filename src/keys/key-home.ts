// One Durable Object per client key made through the admin API, named by the key's SHA-256: its
// record (tenant, limits, revoked or not), its request bucket and its concurrency slots. Every
// request with such a key asks this object once: it is the key's single writer, so a limit holds
// exactly whatever the concurrency (a burst of 100 against 10 a minute lets exactly 10 through).

import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.js";
import type { Bucket, KeyLimits } from "./limits.js";
import { requestHeaders, takeRequest } from "./limits.js";

/** A key as the admin API shows it: never its secret. */
export interface KeyRecord {
  id: string;
  object: "api_key";
  name: string;
  tenant: string;
  /** The first characters of the secret, to recognise it by. */
  prefix: string;
  limits: KeyLimits;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export type Authorization =
  | { status: "unknown" }
  | { status: "revoked" }
  | { status: "ok"; tenant: string; keyId: string; headers: Record<string, string>; slot: string | null }
  | { status: "limited"; limit: "requests" | "concurrency"; retryAfterMs: number; headers: Record<string, string>; message: string };

export interface AuthorizeRequest {
  /** The request starts a turn: it takes a concurrency slot, held until `release` or `slotMs`. */
  turn: boolean;
  slotMs: number;
}

/** How often the last-used time is written at most: a key used every second costs no write per request. */
const LAST_USED_RESOLUTION_MS = 60_000;

export class KeyHome extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS record (k INTEGER PRIMARY KEY CHECK (k = 1), json TEXT NOT NULL)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS bucket (k INTEGER PRIMARY KEY CHECK (k = 1), tokens REAL NOT NULL, at INTEGER NOT NULL)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS slots (token TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)");
  }

  /** False when the object already holds a key (a hash collision, or a create retried). */
  async create(record: KeyRecord): Promise<boolean> {
    if (this.record()) return false;
    this.write(record);
    return true;
  }

  async describe(): Promise<KeyRecord | null> {
    return this.record();
  }

  /** Checks the key and takes what the request needs (a request, a slot), in one step of this single writer. */
  async authorize(request: AuthorizeRequest): Promise<Authorization> {
    const record = this.record();
    if (!record) return { status: "unknown" };
    if (record.revoked_at !== null) return { status: "revoked" };
    const now = Date.now();
    const { requests_per_minute: perMinute, concurrent_turns: concurrent } = record.limits;
    if (request.turn && concurrent !== undefined) {
      this.sql.exec("DELETE FROM slots WHERE expires_at <= ?", now);
      const held = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM slots").one().n;
      if (held >= concurrent) {
        return {
          status: "limited",
          limit: "concurrency",
          retryAfterMs: 1_000,
          headers: {},
          message: `This key may run ${concurrent} turn${concurrent === 1 ? "" : "s"} at once, and that many are running: retry when one has finished.`,
        };
      }
    }
    let headers: Record<string, string> = {};
    if (perMinute !== undefined) {
      const taken = takeRequest(this.bucket(), perMinute, now);
      this.sql.exec("INSERT OR REPLACE INTO bucket (k, tokens, at) VALUES (1, ?, ?)", taken.bucket.tokens, taken.bucket.at);
      headers = requestHeaders(perMinute, taken);
      if (!taken.ok) {
        return {
          status: "limited",
          limit: "requests",
          retryAfterMs: taken.retryAfterMs,
          headers,
          message: `Rate limit reached: ${perMinute} requests per minute for this key. Retry after ${Math.ceil(taken.retryAfterMs / 1000)} s.`,
        };
      }
    }
    let slot: string | null = null;
    if (request.turn && concurrent !== undefined) {
      slot = crypto.randomUUID();
      this.sql.exec("INSERT INTO slots (token, expires_at) VALUES (?, ?)", slot, now + request.slotMs);
    }
    if (record.last_used_at === null || now - record.last_used_at >= LAST_USED_RESOLUTION_MS) this.write({ ...record, last_used_at: now });
    return { status: "ok", tenant: record.tenant, keyId: record.id, headers, slot };
  }

  /** The turn holding this slot ended. */
  async release(slot: string): Promise<void> {
    this.sql.exec("DELETE FROM slots WHERE token = ?", slot);
  }

  async update(limits: KeyLimits): Promise<KeyRecord | null> {
    const record = this.record();
    if (!record) return null;
    const next = { ...record, limits };
    this.write(next);
    // A lower limit applies from the next request; a bucket fuller than the new limit is cut to it.
    if (limits.requests_per_minute !== undefined) this.sql.exec("UPDATE bucket SET tokens = MIN(tokens, ?)", limits.requests_per_minute);
    return next;
  }

  /** Refused on its next request, everywhere: every request asks this object. */
  async revoke(): Promise<KeyRecord | null> {
    const record = this.record();
    if (!record) return null;
    const next = { ...record, revoked_at: record.revoked_at ?? Date.now() };
    this.write(next);
    return next;
  }

  private record(): KeyRecord | null {
    const row = this.sql.exec<{ json: string }>("SELECT json FROM record").toArray()[0];
    return row ? (JSON.parse(row.json) as KeyRecord) : null;
  }

  private write(record: KeyRecord): void {
    this.sql.exec("INSERT OR REPLACE INTO record (k, json) VALUES (1, ?)", JSON.stringify(record));
  }

  private bucket(): Bucket | null {
    return this.sql.exec<{ tokens: number; at: number }>("SELECT tokens, at FROM bucket").toArray()[0] ?? null;
  }
}
