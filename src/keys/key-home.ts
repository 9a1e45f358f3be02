// One Durable Object per client key made through the admin API, named by the key's SHA-256: its
// record (tenant, limits, revoked or not), its request bucket and its concurrency slots. Every
// request with such a key asks this object once: it is the key's single writer, so a limit holds
// exactly whatever the concurrency (a burst of 100 against 10 a minute lets exactly 10 through).

import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.js";
import type { Bucket, KeyLimits } from "./limits.js";
import { DAY_MS, dayStart, duration, hasBudget, mergeLimits, monthStart, nextMonthStart, requestHeaders, takeRequest } from "./limits.js";
import type { ModelPrice } from "./pricing.js";

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

export interface ReserveRequest {
  /** Bytes of the prompt (messages and tools): at least its tokens. */
  promptBytes: number;
  /** The call's output cap before the budget clamps it. */
  maxOutput: number;
  /** The dearest price of the models that may answer; null when one has none. */
  price: ModelPrice | null;
  /** A model without a price may run under a spend limit (and costs it nothing). */
  allowUnpriced: boolean;
  /** A reservation nobody settles (its Worker died) is released after this. */
  holdMs: number;
  /** A tenant's object: its limits, from the configuration. */
  tenant?: TenantLimits;
}

export type Reservation =
  /** `bounded`: the key has a budget, so the call must be sent with `maxOutput` as its cap. */
  | { status: "reserved"; id: string; maxOutput: number; bounded: boolean }
  | { status: "unpriced" }
  | { status: "refused"; kind: "tokens" | "spend"; retryAfterMs: number; message: string }
  | { status: "revoked" };

export interface Settlement {
  model: string;
  /** Null when the upstream reported none: the whole reservation is counted. */
  usage: { input: number; cached: number; output: number; usd: number } | null;
}

export interface UsageQuery {
  start: number;
  end: number;
  widthMs: number;
  byModel: boolean;
}

export interface UsageReport {
  rows: Array<{ bucket: number; model: string; requests: number; input: number; cached: number; output: number; usd: number }>;
  reserved: { count: number; tokens: number; usd: number };
  /** Each budget the key has, as it stands now: its limit, what is used (reservations included), and when it resets. */
  budgets: Array<{ limit: "tokens_per_day" | "spend_usd_per_day" | "spend_usd_per_month"; value: number; used: number; remaining: number; resets_at: number }>;
}

export interface AuthorizeRequest {
  /** The request starts a turn: it takes a concurrency slot, held until `release` or `slotMs`. */
  turn: boolean;
  slotMs: number;
  /** A tenant's object: its limits come from the configuration (TENANT_LIMITS), given with every request. */
  tenant?: TenantLimits;
}

/** A tenant whose limits the operator configured: its object holds them as a key's holds its own. */
export interface TenantLimits {
  tenant: string;
  limits: KeyLimits;
}

/** Usage is kept this long: the longest period (a month) and a usage API window past it. */
const USAGE_RETAIN_MS = 62 * 86_400_000;

/** How often the last-used time is written at most: a key used every second costs no write per request. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** Whose limit a refusal names: the key's, or its tenant's. */
const whose = (request: { tenant?: TenantLimits }) => (request.tenant ? `tenant ${request.tenant.tenant}` : "this key");

export class KeyHome extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
  }

  /**
   * Tables are made with the key, not with the object: a request with a made-up key reaches an
   * object that holds nothing, and must leave nothing behind.
   */
  private createTables(): void {
    this.sql.exec("CREATE TABLE IF NOT EXISTS record (k INTEGER PRIMARY KEY CHECK (k = 1), json TEXT NOT NULL)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS bucket (k INTEGER PRIMARY KEY CHECK (k = 1), tokens REAL NOT NULL, at INTEGER NOT NULL)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS slots (token TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)");
    // What model calls cost: settled from the usage the upstream reported, reserved while they run.
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS settled (at INTEGER NOT NULL, model TEXT NOT NULL, input INTEGER NOT NULL, cached INTEGER NOT NULL, output INTEGER NOT NULL, usd REAL NOT NULL)",
    );
    this.sql.exec("CREATE INDEX IF NOT EXISTS settled_by_time ON settled (at)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS reservations (id TEXT PRIMARY KEY, tokens INTEGER NOT NULL, usd REAL NOT NULL, expires_at INTEGER NOT NULL)");
  }

  /** False when the object already holds a key (a hash collision, or a create retried). */
  async create(record: KeyRecord): Promise<boolean> {
    this.createTables();
    if (this.record()) return false;
    this.write(record);
    return true;
  }

  async describe(): Promise<KeyRecord | null> {
    return this.record();
  }

  /** Checks the key and takes what the request needs (a request, a slot), in one step of this single writer. */
  async authorize(request: AuthorizeRequest): Promise<Authorization> {
    const record = request.tenant ? this.tenantRecord(request.tenant) : this.record();
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
    if (record.limits.tokens_per_day !== undefined) headers = { ...headers, ...this.tokenHeaders(record.limits.tokens_per_day, now) };
    let slot: string | null = null;
    if (request.turn && concurrent !== undefined) {
      slot = crypto.randomUUID();
      this.sql.exec("INSERT INTO slots (token, expires_at) VALUES (?, ?)", slot, now + request.slotMs);
    }
    if (record.last_used_at === null || now - record.last_used_at >= LAST_USED_RESOLUTION_MS) this.write({ ...record, last_used_at: now });
    return { status: "ok", tenant: record.tenant, keyId: record.id, headers, slot };
  }

  /**
   * Before a model call: reserves the most it can cost (its prompt's bytes bound its tokens; its
   * output cap, clamped to what the budgets have left), atomically with every other reservation of
   * the key, so concurrent turns never spend more than a budget together.
   */
  async reserve(request: ReserveRequest): Promise<Reservation> {
    const record = request.tenant ? this.tenantRecord(request.tenant) : this.record();
    if (!record || record.revoked_at !== null) return { status: "revoked" };
    const now = Date.now();
    this.chargeLapsed(now);
    const { tokens_per_day: tokenLimit, spend_usd_per_day: dayLimit, spend_usd_per_month: monthLimit } = record.limits;
    // Without a budget there is nothing to reserve: the call runs as asked and its usage is recorded after.
    if (!hasBudget(record.limits)) return { status: "reserved", id: "", maxOutput: request.maxOutput, bounded: false };
    if ((dayLimit !== undefined || monthLimit !== undefined) && !request.price && !request.allowUnpriced) return { status: "unpriced" };
    let maxOutput = request.maxOutput;
    if (tokenLimit !== undefined) {
      const room = tokenLimit - this.tokensSince(dayStart(now)) - request.promptBytes;
      if (room < 1) {
        return {
          status: "refused",
          kind: "tokens",
          retryAfterMs: dayStart(now) + DAY_MS - now,
          message: `Token limit reached: ${tokenLimit} tokens per day for ${whose(request)} (this call's prompt alone may take ${request.promptBytes}). It resets at 00:00 UTC.`,
        };
      }
      maxOutput = Math.min(maxOutput, room);
    }
    const spendLimits: Array<[number | undefined, number, number, string]> = [
      [dayLimit, dayStart(now), dayStart(now) + DAY_MS, "day"],
      [monthLimit, monthStart(now), nextMonthStart(now), "month"],
    ];
    const price = request.price;
    for (const [limit, since, resets, period] of spendLimits) {
      if (limit === undefined || !price) continue;
      const room = limit - this.spentSince(since) - (request.promptBytes * price.input) / 1_000_000;
      const outputs = price.output > 0 ? Math.floor((room * 1_000_000) / price.output) : maxOutput;
      if (room <= 0 || outputs < 1) {
        return {
          status: "refused",
          kind: "spend",
          retryAfterMs: resets - now,
          message: `The budget of $${limit} per ${period} for ${whose(request)} is spent. It resets at ${new Date(resets).toISOString()}.`,
        };
      }
      maxOutput = Math.min(maxOutput, outputs);
    }
    const id = crypto.randomUUID();
    const usd = price ? (request.promptBytes * price.input + maxOutput * price.output) / 1_000_000 : 0;
    this.sql.exec("INSERT INTO reservations (id, tokens, usd, expires_at) VALUES (?, ?, ?, ?)", id, request.promptBytes + maxOutput, usd, now + request.holdMs);
    return { status: "reserved", id, maxOutput, bounded: true };
  }

  /** After the call: the reservation becomes what the call really cost (or, without usage reported, all it reserved). */
  async settle(id: string, settled: Settlement): Promise<void> {
    const held = this.sql.exec<{ tokens: number; usd: number }>("SELECT tokens, usd FROM reservations WHERE id = ?", id).toArray()[0];
    this.sql.exec("DELETE FROM reservations WHERE id = ?", id);
    const usage = settled.usage;
    if (usage) {
      this.sql.exec(
        "INSERT INTO settled (at, model, input, cached, output, usd) VALUES (?, ?, ?, ?, ?, ?)",
        Date.now(),
        settled.model,
        usage.input,
        usage.cached,
        usage.output,
        usage.usd,
      );
    } else if (held) {
      this.sql.exec("INSERT INTO settled (at, model, input, cached, output, usd) VALUES (?, ?, ?, 0, 0, ?)", Date.now(), settled.model, held.tokens, held.usd);
    }
  }

  /** The call failed before the upstream answered: nothing was spent. */
  async unreserve(id: string): Promise<void> {
    this.sql.exec("DELETE FROM reservations WHERE id = ?", id);
  }

  /** Settled usage in buckets (`group_by` model or not), and what is reserved right now, apart. */
  async usage(query: UsageQuery): Promise<UsageReport> {
    const rows = this.sql
      .exec<{ bucket: number; model: string; requests: number; input: number; cached: number; output: number; usd: number }>(
        `SELECT CAST((at - ?) / ? AS INTEGER) AS bucket, ${query.byModel ? "model" : "'' AS model"}, COUNT(*) AS requests, SUM(input) AS input, SUM(cached) AS cached,
           SUM(output) AS output, SUM(usd) AS usd
         FROM settled WHERE at >= ? AND at < ? GROUP BY bucket${query.byModel ? ", model" : ""} ORDER BY bucket, model`,
        query.start,
        query.widthMs,
        query.start,
        query.end,
      )
      .toArray();
    const reserved = this.sql
      .exec<{ n: number; tokens: number | null; usd: number | null }>(
        "SELECT COUNT(*) AS n, SUM(tokens) AS tokens, SUM(usd) AS usd FROM reservations WHERE expires_at > ?",
        Date.now(),
      )
      .one();
    return {
      rows,
      reserved: { count: reserved.n, tokens: reserved.tokens ?? 0, usd: reserved.usd ?? 0 },
      budgets: this.budgets(Date.now()),
    };
  }

  /**
   * A reservation nobody settled in time (the object running its turn died mid-call) counts as
   * spent, whole: the upstream may well have generated it. Usage older than any period a limit or
   * the usage API reads is let go.
   */
  private chargeLapsed(now: number): void {
    const lapsed = this.sql.exec<{ tokens: number; usd: number }>("SELECT tokens, usd FROM reservations WHERE expires_at <= ?", now).toArray();
    for (const { tokens, usd } of lapsed)
      this.sql.exec("INSERT INTO settled (at, model, input, cached, output, usd) VALUES (?, 'unsettled', ?, 0, 0, ?)", now, tokens, usd);
    this.sql.exec("DELETE FROM reservations WHERE expires_at <= ?", now);
    this.sql.exec("DELETE FROM settled WHERE at < ?", now - USAGE_RETAIN_MS);
  }

  private budgets(now: number): UsageReport["budgets"] {
    const limits = this.record()?.limits ?? {};
    const budgets: UsageReport["budgets"] = [];
    const add = (limit: UsageReport["budgets"][number]["limit"], value: number | undefined, used: number, resets: number) => {
      if (value !== undefined) budgets.push({ limit, value, used, remaining: Math.max(0, value - used), resets_at: Math.floor(resets / 1000) });
    };
    add("tokens_per_day", limits.tokens_per_day, this.tokensSince(dayStart(now)), dayStart(now) + DAY_MS);
    add("spend_usd_per_day", limits.spend_usd_per_day, this.spentSince(dayStart(now)), dayStart(now) + DAY_MS);
    add("spend_usd_per_month", limits.spend_usd_per_month, this.spentSince(monthStart(now)), nextMonthStart(now));
    return budgets;
  }

  private tokensSince(since: number): number {
    const settled = this.sql.exec<{ n: number | null }>("SELECT SUM(input + output) AS n FROM settled WHERE at >= ?", since).one().n ?? 0;
    return settled + (this.sql.exec<{ n: number | null }>("SELECT SUM(tokens) AS n FROM reservations").one().n ?? 0);
  }

  private spentSince(since: number): number {
    const settled = this.sql.exec<{ usd: number | null }>("SELECT SUM(usd) AS usd FROM settled WHERE at >= ?", since).one().usd ?? 0;
    return settled + (this.sql.exec<{ usd: number | null }>("SELECT SUM(usd) AS usd FROM reservations").one().usd ?? 0);
  }

  private tokenHeaders(limit: number, now: number): Record<string, string> {
    return {
      "x-ratelimit-limit-tokens": String(limit),
      "x-ratelimit-remaining-tokens": String(Math.max(0, limit - this.tokensSince(dayStart(now)))),
      "x-ratelimit-reset-tokens": duration(dayStart(now) + DAY_MS - now),
    };
  }

  /** The turn holding this slot ended. */
  async release(slot: string): Promise<void> {
    this.sql.exec("DELETE FROM slots WHERE token = ?", slot);
  }

  /** Applies a change of limits (null removes one) here, so two changes at once both land. */
  async update(change: Record<string, number | null>): Promise<KeyRecord | null> {
    const record = this.record();
    if (!record) return null;
    const limits = mergeLimits(record.limits, change);
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

  /**
   * A tenant's record, made or brought up to date from the configured limits (the configuration is
   * the truth; the object keeps the counters). A tenant's object is never revoked.
   */
  private tenantRecord(tenant: TenantLimits): KeyRecord {
    const current = this.record();
    if (current && JSON.stringify(current.limits) === JSON.stringify(tenant.limits)) return current;
    if (!current) this.createTables();
    const record: KeyRecord = current
      ? { ...current, limits: tenant.limits }
      : {
          id: `tenant_${tenant.tenant}`,
          object: "api_key",
          name: `tenant ${tenant.tenant}`,
          tenant: tenant.tenant,
          prefix: "",
          limits: tenant.limits,
          created_at: Date.now(),
          last_used_at: null,
          revoked_at: null,
        };
    this.write(record);
    return record;
  }

  private record(): KeyRecord | null {
    if (this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'record'").toArray().length === 0) return null;
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
