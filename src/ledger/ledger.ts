// The ledger: the one place where Switchboard claims what must happen once (an Idempotency-Key, a
// webhook delivery, a webhook job's turn, its callback). KV cannot do this: it has no atomic
// read-modify-write and takes up to a minute to agree across locations. A Durable Object is a single
// thread with transactional storage, reached from everywhere by name, so a claim made here is made
// exactly once, globally. Each claim key names its own object (`idFromName(key)`), so claims never
// queue behind one another. Conversations are not kept here: each has its own home
// (src/conversations/home.ts).

import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.js";
import type { ClaimOptions, ClaimOutcome, LedgerApi } from "./claims.js";

interface ClaimRow {
  fingerprint: string;
  token: string;
  state: "running" | "done";
  result: string | null;
  lease_until: number;
  expires_at: number;
  [column: string]: SqlStorageValue;
}

/** What a waiter learns when the claim it waits on changes. */
type Wake = "settled" | "released";

export class Ledger extends DurableObject<Env> implements LedgerApi {
  private readonly waiters = new Map<string, Set<(wake: Wake) => void>>();

  private tableReady = false;

  /** When the alarm is set for, as far as this instance knows: undefined until it has asked storage. */
  private alarmAt: number | null | undefined;

  /** The claims table, created on first use (again after the alarm emptied the object). */
  private get sql(): SqlStorage {
    if (!this.tableReady) {
      this.ctx.storage.sql.exec(
        `CREATE TABLE IF NOT EXISTS claims (
          key TEXT PRIMARY KEY,
          fingerprint TEXT NOT NULL,
          token TEXT NOT NULL,
          state TEXT NOT NULL,
          result TEXT,
          lease_until INTEGER NOT NULL,
          expires_at INTEGER NOT NULL
        )`,
      );
      this.tableReady = true;
    }
    return this.ctx.storage.sql;
  }

  async claim(key: string, fingerprint: string, options: ClaimOptions): Promise<ClaimOutcome> {
    const first = this.tryClaim(key, fingerprint, options);
    if (first.status !== "running" || !first.same || !options.waitMs) {
      if (first.status === "claimed") await this.scheduleCleanup(Date.now() + options.leaseMs);
      return first;
    }
    // A duplicate of work in flight: wait for its outcome rather than run it twice.
    const row = this.read(key);
    const waitMs = Math.max(0, Math.min(options.waitMs, (row?.lease_until ?? Date.now()) - Date.now()));
    const wake = await this.waitFor(key, waitMs);
    if (wake === "released") return { status: "released" };
    const after = this.read(key);
    if (after?.state === "done") return { status: "done", same: after.fingerprint === fingerprint, result: after.result };
    return { status: "running", same: true, retryAfterMs: Math.max(1_000, (after?.lease_until ?? Date.now()) - Date.now()) };
  }

  async settle(key: string, token: string, result: string | null, retainMs: number): Promise<boolean> {
    const now = Date.now();
    const updated = this.sql.exec(
      "UPDATE claims SET state = 'done', result = ?, expires_at = ? WHERE key = ? AND token = ? AND state = 'running'",
      result,
      now + retainMs,
      key,
      token,
    ).rowsWritten;
    if (updated === 0) return false;
    await this.scheduleCleanup(now + retainMs);
    this.wake(key, "settled");
    return true;
  }

  async release(key: string, token: string): Promise<boolean> {
    const deleted = this.sql.exec("DELETE FROM claims WHERE key = ? AND token = ? AND state = 'running'", key, token).rowsWritten;
    if (deleted > 0) this.wake(key, "released");
    return deleted > 0;
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    // A running claim expires with its lease (expires_at = lease_until until it is settled).
    this.sql.exec("DELETE FROM claims WHERE expires_at <= ?", now);
    const next = this.sql.exec<{ next: number | null }>("SELECT MIN(expires_at) AS next FROM claims").one().next;
    if (next !== null) {
      await this.scheduleCleanup(next);
      return;
    }
    // Nothing left to remember: an object with no storage costs nothing and leaves nothing behind.
    await this.ctx.storage.deleteAll();
    this.tableReady = false;
  }

  private tryClaim(key: string, fingerprint: string, options: ClaimOptions): ClaimOutcome {
    const now = Date.now();
    const row = this.read(key);
    const live = row && (row.state === "done" ? row.expires_at > now : row.lease_until > now);
    if (row && live) {
      const same = row.fingerprint === fingerprint;
      if (row.state === "done") return { status: "done", same, result: row.result };
      return { status: "running", same, retryAfterMs: Math.max(1_000, row.lease_until - now) };
    }
    // Unclaimed, expired, or a holder that died without settling (its lease ran out): take it.
    const token = crypto.randomUUID();
    const leaseUntil = now + options.leaseMs;
    this.sql.exec(
      "INSERT OR REPLACE INTO claims (key, fingerprint, token, state, result, lease_until, expires_at) VALUES (?, ?, ?, 'running', NULL, ?, ?)",
      key,
      fingerprint,
      token,
      leaseUntil,
      leaseUntil,
    );
    return { status: "claimed", token, takeover: Boolean(row) };
  }

  private read(key: string): ClaimRow | null {
    return this.sql.exec<ClaimRow>("SELECT fingerprint, token, state, result, lease_until, expires_at FROM claims WHERE key = ?", key).toArray()[0] ?? null;
  }

  private waitFor(key: string, ms: number): Promise<Wake | "timeout"> {
    return new Promise((resolve) => {
      const waiters = this.waiters.get(key) ?? new Set();
      this.waiters.set(key, waiters);
      const done = (wake: Wake | "timeout") => {
        clearTimeout(timer);
        waiters.delete(notify);
        if (waiters.size === 0) this.waiters.delete(key);
        resolve(wake);
      };
      const notify = (wake: Wake) => done(wake);
      const timer = setTimeout(() => done("timeout"), ms);
      waiters.add(notify);
    });
  }

  private wake(key: string, wake: Wake): void {
    for (const notify of [...(this.waiters.get(key) ?? [])]) notify(wake);
  }

  private async scheduleCleanup(at: number): Promise<void> {
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }
}
