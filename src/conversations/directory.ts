// A tenant's directory of conversations: what GET /v1/conversations pages through. A home registers
// here when its conversation is created and leaves when it is deleted or expires, so membership is
// exact; the summary of each (turns, size, title, times) arrives with the home's KV copy, behind the
// answer. An entry whose first turn has not committed yet is pending: a listing asks its home, and
// shows it from the moment that turn is stored.

import { DurableObject } from "cloudflare:workers";
import type { Approval, ApprovalStatus } from "../approvals/types.js";
import type { Env } from "../env.js";
import { homeOf } from "./names.js";
import type { ConversationPage, ConversationSummary } from "./turns.js";

interface EntryRow {
  id: string;
  state: "pending" | "live";
  turns: number;
  bytes: number;
  title: string | null;
  created_at: number;
  updated_at: number;
  [column: string]: SqlStorageValue;
}

export class ConversationDirectory extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS entries (
      id TEXT PRIMARY KEY,
      state TEXT NOT NULL,
      turns INTEGER NOT NULL DEFAULT 0,
      bytes INTEGER NOT NULL DEFAULT 0,
      title TEXT,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    )`);
    // Every approval of the tenant's conversations, as their homes last reported it: what GET /v1/approvals pages through.
    this.sql.exec(`CREATE TABLE IF NOT EXISTS approvals (
      id TEXT PRIMARY KEY,
      conversation_id TEXT NOT NULL,
      status TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      record TEXT NOT NULL
    )`);
    this.sql.exec("CREATE INDEX IF NOT EXISTS approvals_by_status ON approvals (status, created_at, id)");
  }

  async noteApprovals(approvals: Approval[]): Promise<void> {
    for (const approval of approvals) {
      this.sql.exec(
        "INSERT OR REPLACE INTO approvals (id, conversation_id, status, created_at, expires_at, record) VALUES (?, ?, ?, ?, ?, ?)",
        approval.id,
        approval.conversation_id,
        approval.status,
        approval.created_at,
        approval.expires_at,
        JSON.stringify(approval),
      );
    }
  }

  /**
   * Approvals newest first, after the one `after` names; `pending` ones past their time read as
   * `expired` (their home marks them so when its alarm runs).
   */
  async listApprovals(status: ApprovalStatus | null, limit: number, after: string | null): Promise<{ data: Approval[]; has_more: boolean }> {
    const now = Date.now();
    const anchor = after ? this.sql.exec<{ created_at: number }>("SELECT created_at FROM approvals WHERE id = ?", after).toArray()[0] : undefined;
    const where: string[] = [];
    const bindings: SqlStorageValue[] = [];
    if (status === "pending") {
      where.push("status = 'pending' AND expires_at > ?");
      bindings.push(now);
    } else if (status === "expired") {
      where.push("(status = 'expired' OR (status = 'pending' AND expires_at <= ?))");
      bindings.push(now);
    } else if (status) {
      where.push("status = ?");
      bindings.push(status);
    }
    if (anchor) {
      where.push("(created_at < ? OR (created_at = ? AND id < ?))");
      bindings.push(anchor.created_at, anchor.created_at, after as string);
    }
    const rows = this.sql
      .exec<{ record: string }>(
        `SELECT record FROM approvals ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, id DESC LIMIT ?`,
        ...bindings,
        limit + 1,
      )
      .toArray();
    const data = rows.slice(0, limit).map((row) => {
      const approval = JSON.parse(row.record) as Approval;
      return approval.status === "pending" && approval.expires_at <= now ? { ...approval, status: "expired" as const, reason: "expired" } : approval;
    });
    return { data, has_more: rows.length > limit };
  }

  /** The conversation is gone: so are its approvals. */
  private forgetApprovals(conversationId: string): void {
    this.sql.exec("DELETE FROM approvals WHERE conversation_id = ?", conversationId);
  }

  async register(id: string, createdAt: number): Promise<void> {
    this.sql.exec("INSERT OR IGNORE INTO entries (id, state, created_at, updated_at) VALUES (?, 'pending', ?, ?)", id, createdAt, createdAt);
  }

  async update(summary: ConversationSummary): Promise<void> {
    this.sql.exec(
      `INSERT INTO entries (id, state, turns, bytes, title, created_at, updated_at) VALUES (?, 'live', ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET state = 'live', turns = excluded.turns, bytes = excluded.bytes, title = excluded.title,
         created_at = excluded.created_at, updated_at = excluded.updated_at`,
      summary.id,
      summary.turns,
      summary.bytes,
      summary.title,
      summary.created_at ?? Date.now(),
      summary.updated_at ?? Date.now(),
    );
  }

  async remove(id: string): Promise<void> {
    this.sql.exec("DELETE FROM entries WHERE id = ?", id);
    this.forgetApprovals(id);
  }

  /** Conversations in id order after `after`, `limit` at most; pending ones only once their home has a turn. */
  async list(tenant: string, limit: number, after: string | null): Promise<ConversationPage> {
    const shown: ConversationSummary[] = [];
    let cursor = after ?? "";
    for (;;) {
      const rows = this.sql.exec<EntryRow>("SELECT * FROM entries WHERE id > ? ORDER BY id LIMIT ?", cursor, limit - shown.length + 1).toArray();
      const page = rows.slice(0, limit - shown.length);
      for (const row of page) {
        const summary = row.state === "live" ? summaryOf(row) : await this.resolve(tenant, row.id);
        if (summary) shown.push(summary);
        cursor = row.id;
      }
      const more = rows.length > page.length;
      if (!more) return { conversations: shown, cursor: null };
      if (shown.length === limit) return { conversations: shown, cursor };
    }
  }

  /** A pending entry: live once its home committed a turn, gone when its first turn never did. */
  private async resolve(tenant: string, id: string): Promise<ConversationSummary | null> {
    const state = await homeOf(this.env, tenant, id).state();
    if (state.status === "live") {
      // Only an entry still here: a DELETE may have removed it while its home was asked.
      const { summary } = state;
      const updated = this.sql.exec(
        "UPDATE entries SET state = 'live', turns = ?, bytes = ?, title = ?, updated_at = ? WHERE id = ?",
        summary.turns,
        summary.bytes,
        summary.title,
        summary.updated_at ?? Date.now(),
        id,
      ).rowsWritten;
      return updated > 0 ? summary : null;
    }
    if (state.status === "empty") await this.remove(id);
    return null;
  }
}

function summaryOf(row: EntryRow): ConversationSummary {
  return { id: row.id, turns: row.turns, bytes: row.bytes, title: row.title, created_at: row.created_at, updated_at: row.updated_at };
}
