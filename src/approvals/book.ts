// The approvals a conversation's home keeps, and their rules: one parked step at most (its turn's
// earlier steps are committed; this is what the turn continues from), one row per call that waits,
// one decision per approval (the first wins, atomically: the home is the conversation's single
// writer), an expiry that counts as a denial, and the run that continues the step once every call
// of it is decided. All of it lives in the home's SQLite, beside the turns it belongs to.

import { deleteParts, getParts, putParts } from "../conversations/parts.js";
import type { Approval, ApprovalStatus, Decision, ParkedStep } from "./types.js";

export const APPROVAL_TABLES = [
  `CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    record TEXT NOT NULL
  )`,
];

const PARKED_KEY = "parked";

/** The parked step as stored: its approvals live in their rows; the run continuing it, once started. */
interface StoredParked extends Omit<ParkedStep, "approvals"> {
  approval_ids: string[];
  continuation_run: string | null;
}

export type DecideOutcome =
  | { status: "ok"; approvals: Approval[]; continue: boolean }
  | { status: "not_found"; id: string }
  | { status: "conflict"; approval: Approval }
  /** `continue`: marking it expired decided the step's last call (the caller starts the continuation, as for `ok`). */
  | { status: "expired"; approval: Approval; continue: boolean }
  | { status: "not_this_step"; id: string }
  /** The caller had to decide the whole step and left these undecided. */
  | { status: "incomplete"; missing: string[] };

/** An MCP client's call of a tool that waits for a person: run it, or what it waits on (or why it never will). */
export type GateOutcome = { status: "run" } | { status: "denied" | "pending"; approval: Approval } | { status: "gone" };

export class ApprovalBook {
  constructor(private readonly sql: SqlStorage) {}

  /** Inside the commit's transaction: the turn parked with these approvals. */
  park(parked: ParkedStep): void {
    const { approvals, ...step } = parked;
    for (const approval of approvals) this.write(approval);
    const stored: StoredParked = { ...step, approval_ids: approvals.map((approval) => approval.id), continuation_run: null };
    putParts(this.sql, PARKED_KEY, JSON.stringify(stored));
  }

  /** The parked step with its approvals as they stand, or null. */
  parked(): (ParkedStep & { continuation_run: string | null }) | null {
    const stored = this.stored();
    if (!stored) return null;
    const { approval_ids: ids, ...step } = stored;
    return { ...step, approvals: ids.flatMap((id) => this.get(id) ?? []) };
  }

  /** The run that continues the parked step (it alone may take the conversation), or null. */
  continuationRun(): string | null {
    return this.stored()?.continuation_run ?? null;
  }

  /** Whether a turn is parked (no other turn may begin until it is continued). */
  isParked(): boolean {
    return this.stored() !== null;
  }

  /** Inside the continuation's commit: the step it continued is no longer parked. */
  unpark(): void {
    deleteParts(this.sql, PARKED_KEY);
  }

  get(id: string): Approval | null {
    const row = this.sql.exec<{ record: string }>("SELECT record FROM approvals WHERE id = ?", id).toArray()[0];
    return row ? (JSON.parse(row.record) as Approval) : null;
  }

  /**
   * Records decisions, all or none: each must be pending, unexpired and of the parked step. An
   * approval found expired is marked so (that is not undone). `continue` says every call of the
   * step is now decided and nobody continues it yet: the caller starts `runId` and it is recorded
   * as the step's continuation.
   */
  decide(decisions: ReadonlyArray<{ id: string } & Decision>, now: number, runId: string, complete = false): DecideOutcome {
    const stored = this.stored();
    const found: Approval[] = [];
    if (new Set(decisions.map((decision) => decision.id)).size !== decisions.length) return { status: "not_found", id: "duplicate" };
    for (const decision of decisions) {
      const approval = this.get(decision.id);
      if (!approval) return { status: "not_found", id: decision.id };
      if (approval.status !== "pending") return { status: "conflict", approval };
      if (approval.expires_at <= now) {
        // Found expired before the alarm came: it counts as denied now, and may be what the step waited for.
        this.expire([approval], now);
        return { status: "expired", approval: this.get(approval.id) as Approval, continue: approval.kind === "turn" && this.startContinuation(runId) };
      }
      if (approval.kind === "turn" && !stored?.approval_ids.includes(approval.id)) return { status: "not_this_step", id: approval.id };
      found.push(approval);
    }
    if (complete && stored) {
      const named = new Set(decisions.map((decision) => decision.id));
      const missing = stored.approval_ids.filter((id) => !named.has(id) && this.get(id)?.status === "pending");
      if (missing.length > 0) return { status: "incomplete", missing };
    }
    const decided = found.map((approval, index) => {
      const decision = decisions[index] as Decision;
      const next: Approval = {
        ...approval,
        status: decision.approve ? "approved" : "denied",
        decided_at: now,
        reason: decision.reason ?? null,
      };
      this.write(next);
      return next;
    });
    return { status: "ok", approvals: decided, continue: this.startContinuation(runId) };
  }

  /** Pending approvals past their time are denied as `expired`; true when that left the step ready to continue under `runId`. */
  expireDue(now: number, runId: string): boolean {
    const due = this.sql
      .exec<{ record: string }>("SELECT record FROM approvals WHERE status = 'pending' AND expires_at <= ?", now)
      .toArray()
      .map((row) => JSON.parse(row.record) as Approval);
    if (due.length === 0) return false;
    this.expire(due, now);
    return this.startContinuation(runId);
  }

  /**
   * An MCP client's tools/call of a tool that needs approval: runs when a person approved this very
   * call (same tool, same arguments) and nothing used that decision yet; the decision is used up
   * here, so it allows one run. Otherwise the call waits on its approval, made now if there is none.
   */
  gateCall(request: Approval, now: number): GateOutcome {
    const earlier = this.sql
      .exec<{ record: string }>("SELECT record FROM approvals ORDER BY created_at DESC")
      .toArray()
      .map((row) => JSON.parse(row.record) as Approval)
      .find(
        (approval) =>
          approval.kind === "mcp_call" && approval.tool === request.tool && approval.arguments_sha256 === request.arguments_sha256 && !approval.used_at,
      );
    if ((earlier?.status === "approved" || earlier?.status === "denied") && earlier.expires_at > now) {
      this.write({ ...earlier, used_at: now });
      return earlier.status === "approved" ? { status: "run" } : { status: "denied", approval: earlier };
    }
    if (earlier?.status === "pending" && earlier.expires_at > now) return { status: "pending", approval: earlier };
    // Undecided in time, or decided and never used in time: the call asks again.
    if (earlier?.status === "pending") this.expire([earlier], now);
    else if (earlier) this.write({ ...earlier, used_at: now });
    this.write(request);
    return { status: "pending", approval: request };
  }

  /** Whether an approval waits for a decision or for the call it allowed: the home keeps them. */
  hasOpen(): boolean {
    const now = Date.now();
    return (
      this.isParked() ||
      this.all(null).some((approval) => approval.kind === "mcp_call" && !approval.used_at && approval.status !== "expired" && approval.expires_at > now)
    );
  }

  /** When the next pending approval expires, or null. */
  nextExpiry(): number | null {
    return this.sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM approvals WHERE status = 'pending'").one().at;
  }

  /**
   * The continuation failed before it committed (the model kept failing, its deadline passed): the
   * turn ends there, as a failed turn does, and the conversation takes new turns again. Its
   * approvals keep their decisions.
   */
  abandon(runId: string): boolean {
    if (this.stored()?.continuation_run !== runId) return false;
    this.unpark();
    return true;
  }

  /** Records the continuation when every call is decided and none is recorded yet. */
  private startContinuation(runId: string): boolean {
    const stored = this.stored();
    if (!stored || stored.continuation_run !== null) return false;
    const statuses = stored.approval_ids.map((id) => this.get(id)?.status ?? "pending");
    if (statuses.some((status) => status === "pending")) return false;
    putParts(this.sql, PARKED_KEY, JSON.stringify({ ...stored, continuation_run: runId }));
    return true;
  }

  /** Approvals of this tenant's conversation as they stand, newest first. */
  all(status: ApprovalStatus | null): Approval[] {
    const rows = status
      ? this.sql.exec<{ record: string }>("SELECT record FROM approvals WHERE status = ? ORDER BY created_at DESC", status).toArray()
      : this.sql.exec<{ record: string }>("SELECT record FROM approvals ORDER BY created_at DESC").toArray();
    return rows.map((row) => JSON.parse(row.record) as Approval);
  }

  /** Records the continuation's ids on the approvals it answers. */
  noteContinuation(ids: readonly string[], continuation: NonNullable<Approval["continuation"]>): Approval[] {
    return ids.flatMap((id) => {
      const approval = this.get(id);
      if (!approval) return [];
      const next = { ...approval, continuation };
      this.write(next);
      return [next];
    });
  }

  private expire(approvals: readonly Approval[], now: number): void {
    for (const approval of approvals) this.write({ ...approval, status: "expired", decided_at: now, reason: "expired" });
  }

  private write(approval: Approval): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO approvals (id, status, created_at, expires_at, record) VALUES (?, ?, ?, ?, ?)",
      approval.id,
      approval.status,
      approval.created_at,
      approval.expires_at,
      JSON.stringify(approval),
    );
  }

  private stored(): StoredParked | null {
    const text = getParts(this.sql, PARKED_KEY);
    return text === null ? null : (JSON.parse(text) as StoredParked);
  }
}
