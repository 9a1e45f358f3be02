// A conversation's one home: a SQLite-backed Durable Object per conversation, its single writer.
// A turn takes the conversation (a lease) before it reads the history, and commits everything it
// produced (its messages and trace, the Responses object that answered it, a mixed step, the
// Idempotency-Key's answer) in one storage transaction, which also hands the conversation to the
// next turn waiting in line. Turns of one conversation therefore run one after another and never
// fork; a second turn waits in a short queue and then sees the first one's history.
//
// KV keeps a copy written behind the answer by the object's alarm (copy.ts): the cold copy, and what
// an object whose storage is gone rehydrates from. The tenant's directory (directory.ts) lists it.

import { DurableObject } from "cloudflare:workers";
import type { DecideOutcome, GateOutcome } from "../approvals/book.js";
import { APPROVAL_TABLES, ApprovalBook } from "../approvals/book.js";
import { continuationSpec } from "../approvals/continuation.js";
import type { Approval, ApprovalStatus, Decision } from "../approvals/types.js";
import { readConfig } from "../config.js";
import type { Env } from "../env.js";
import { createClaims } from "../ledger/claims.js";
import { randomToken } from "../lib/ids.js";
import { createLogger } from "../log.js";
import type { InputItem } from "../protocol/responses/input-items.js";
import { inputItemsOf } from "../protocol/responses/input-items.js";
import type { CancelOutcome } from "../runs/host.js";
import { createRunTables, RunHost } from "../runs/host.js";
import type { ResponsesDoor, RunSpec, RunState, TerminalEvent } from "../runs/types.js";
import { createServices } from "../services.js";
import type { WebhookJob } from "../webhooks/deliveries.js";
import { jobQueue } from "../webhooks/deliveries.js";
import { readCopy, removeCopy, writeCopy } from "./copy.js";
import { directoryOf, LEASE_MS } from "./names.js";
import { deleteParts, getParts, PARTS_TABLE, putParts } from "./parts.js";
import type { ConversationSummary, StoredResponse, TurnProducts, TurnRecord } from "./turns.js";
import { titleOf } from "./turns.js";

/** Turns that may wait behind the running one; past this a turn is refused (409) at once. */
export const MAX_WAITING_TURNS = 4;
/** The KV copy is written this long after the commit that changed it, one write for every turn in between (KV takes one write a second per key). */
export const WRITE_BEHIND_MS = 1_000;
/** A failed KV write is tried again after this, doubling up to a minute. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 60_000;

export interface BeginRequest {
  tenant: string;
  conversationId: string;
  /** The caller minted the id just now: there is no copy to look for. */
  fresh: boolean;
  /** A claimed Idempotency-Key: when this conversation already committed its answer, that answer is replayed. */
  idempotencyKey?: string;
  /** How long to wait in line behind a running turn. */
  waitMs: number;
  /** The lease's token, chosen by the caller (a run's id): the same caller asking again takes its lease back. */
  token?: string;
}

export type BeginOutcome =
  /**
   * `turns` is the stored turns as one JSON array: they are kept as JSON and read as JSON, never
   * rebuilt in between. `parked` (a ParkedStep as JSON) is given to the run that continues it.
   */
  | { status: "ready"; token: string; turns: string; bytes: number; parked?: string }
  /** A turn of this conversation waits for a person: nothing else may run until it is decided. */
  | { status: "awaiting_approval"; approvals: string[] }
  | { status: "replay"; record: string }
  | { status: "busy"; retryAfterMs: number }
  | { status: "gone" };

export interface CommitRequest {
  /** For a rescued turn: whose conversation it is, should the home have to be created again. */
  owner?: { tenant: string; conversationId: string };
  turn: TurnRecord;
  products: TurnProducts;
  maxBytes: number;
  ttlSeconds: number;
}

export type CommitOutcome = { status: "ok" } | { status: "lost" } | { status: "gone" } | { status: "too_large"; bytes: number };

/** A resumed stream: the run's events from the start (the door skips what the client saw), or why not. */
export type FollowOutcome =
  | { status: "ok"; events: ReadableStream<Uint8Array>; door: ResponsesDoor }
  | { status: "not_found" }
  | { status: "not_background" }
  | { status: "past_end"; last: number };

/** A decision as the home answers it; `events` follows the continuation when the caller asked to. */
export type DecisionOutcome = DecideOutcome & { events?: ReadableStream<Uint8Array> | null; continuation?: { run_id: string; response_id: string | null } };

/** What the directory learns of a home it lists. */
export type HomeState = { status: "live"; summary: ConversationSummary } | { status: "pending" } | { status: "empty" };

interface HomeRow {
  tenant: string;
  conversation_id: string;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
  ttl_seconds: number;
  version: number;
  write_due: number | null;
  write_attempts: number;
  lease_token: string | null;
  lease_until: number;
  [column: string]: SqlStorageValue;
}

interface Waiter {
  request: BeginRequest;
  resolve: (outcome: BeginOutcome) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class ConversationHome extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly waiting: Waiter[] = [];
  /** The turns' JSON as stored, read once per instance: every turn reads the whole history. */
  private turnCache: Array<{ id: string; text: string }> | null = null;
  /** When the alarm is set for, as far as this instance knows: undefined until it has asked storage. */
  private alarmAt: number | null | undefined;
  /** Turns creating this home right now (awaiting KV or the directory): it is not empty, whatever storage says. */
  private starting = 0;
  /** Wakes the line when a lease that nobody renews runs out (a Worker died holding it). */
  private leaseTimer: ReturnType<typeof setTimeout> | null = null;
  /** The KV write under way, which a DELETE must outlast before it removes the copy. */
  private writing: Promise<void> | null = null;
  /** The conversation's runs: its turns, driven here so they outlive the requests that started them. */
  private readonly runs: RunHost;
  /** The calls of a parked turn that wait for a person, and their decisions. */
  private readonly book: ApprovalBook;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.createTables();
    this.book = new ApprovalBook(this.sql);
    this.runs = new RunHost({
      ctx,
      sql: this.sql,
      services: () => this.runServices(),
      schedule: () => this.schedule(),
      claims: createClaims(env.LEDGER),
      ended: (spec, terminal) => this.runEnded(spec, terminal),
      unused: (spec) => this.releaseSlots(spec),
    });
  }

  /** Again after deleteAll(): an instance lives on after its storage is emptied. */
  private createTables(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS home (
      k INTEGER PRIMARY KEY CHECK (k = 1),
      tenant TEXT NOT NULL,
      conversation_id TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      deleted_at INTEGER,
      ttl_seconds INTEGER NOT NULL,
      version INTEGER NOT NULL DEFAULT 0,
      write_due INTEGER,
      write_attempts INTEGER NOT NULL DEFAULT 0,
      lease_token TEXT,
      lease_until INTEGER NOT NULL DEFAULT 0
    )`);
    this.sql.exec("CREATE TABLE IF NOT EXISTS turns (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, bytes INTEGER NOT NULL)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS responses (id TEXT PRIMARY KEY, turn_id TEXT NOT NULL)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS mixed_steps (call_id TEXT PRIMARY KEY, turn_id TEXT NOT NULL, step TEXT NOT NULL)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, record TEXT NOT NULL, expires_at INTEGER NOT NULL)");
    this.sql.exec(PARTS_TABLE);
    createRunTables(this.sql);
    for (const statement of APPROVAL_TABLES) this.sql.exec(statement);
  }

  // --- runs --------------------------------------------------------------------------------------

  /** Starts a turn as a run of this conversation; its events as NDJSON when the caller follows it. */
  async startRun(spec: RunSpec, follow: boolean): Promise<ReadableStream<Uint8Array> | null> {
    const events = this.runs.start(spec, follow);
    // The alarm is what takes the run up again should this object die: set before the caller is answered.
    await this.schedule();
    return events;
  }

  /** A background response's stream again, from the start: only a background run keeps its events. */
  async followRun(tenant: string, responseId: string, startingAfter: number | null): Promise<FollowOutcome> {
    const runId = this.runs.runOfResponse(responseId, tenant);
    const spec = runId ? this.runs.spec(runId) : null;
    if (!runId || !spec) return { status: (await this.existing(tenant)) && this.responseRecord(responseId) ? "not_background" : "not_found" };
    if (!spec.background || spec.door.kind !== "responses") return { status: "not_background" };
    const count = this.runs.currentView(spec).count;
    if (startingAfter !== null && startingAfter >= count) return { status: "past_end", last: count - 1 };
    return { status: "ok", events: this.runs.follow(runId, 0), door: spec.door };
  }

  async cancelRun(tenant: string, responseId: string): Promise<CancelOutcome> {
    const runId = this.runs.runOfResponse(responseId, tenant);
    if (runId) return this.runs.cancel(runId);
    return (await this.existing(tenant)) && this.responseRecord(responseId) ? { status: "not_cancellable", reason: "not_background" } : null;
  }

  /** A run as it stands (an MCP task's status and result), if it is this tenant's. */
  async runState(tenant: string, runId: string): Promise<RunState | null> {
    const state = this.runs.state(runId);
    return state && state.tenant === tenant ? state : null;
  }

  async cancelTask(tenant: string, runId: string): Promise<CancelOutcome> {
    const state = this.runs.state(runId);
    return state && state.tenant === tenant ? this.runs.cancel(runId) : null;
  }

  /** The items a response's model call was given: the conversation before its turn, then its input. */
  async inputItems(tenant: string, responseId: string, token: string): Promise<InputItem[] | null> {
    const runId = this.runs.runOfResponse(responseId, tenant);
    if (!(await this.existing(tenant)) && !runId) return null;
    const stored = this.responseRecord(responseId);
    const idFor = (prefix: string, index: number) => `${prefix}_${token}_in${index}`;
    const turns = this.turns();
    if (stored) {
      const { turn_id: turnId } = JSON.parse(stored) as StoredResponse;
      const at = turns.findIndex((turn) => turn.id === turnId);
      if (at >= 0) {
        const turn = turns[at] as TurnRecord;
        const earlier = turns.slice(0, at).flatMap((each) => each.messages);
        return inputItemsOf([...earlier, ...turn.messages.slice(0, turn.input_count ?? turn.messages.length)].filter(notSystem), idFor);
      }
    }
    const spec = runId ? this.runs.spec(runId) : null;
    if (!spec) return null;
    const earlier = turns.filter((turn) => turn.id !== spec.id).flatMap((each) => each.messages);
    return inputItemsOf([...earlier, ...spec.turn.input].filter(notSystem), idFor);
  }

  private responseRecord(responseId: string): string | null {
    return getParts(this.sql, `response:${responseId}`);
  }

  private runServices() {
    const config = readConfig(this.env);
    const log = createLogger({ home: this.ctx.id.toString() }, config.secrets);
    return createServices(this.env, config, { log, waitUntil: (work) => this.ctx.waitUntil(work), self: { id: this.ctx.id, home: this } });
  }

  // --- approvals ---------------------------------------------------------------------------------

  /** One approval as it stands, if it is this tenant's; a pending one past its time reads as expired. */
  async approval(tenant: string, id: string): Promise<Approval | null> {
    if (!(await this.existing(tenant))) return null;
    const approval = this.book.get(id);
    if (!approval) return null;
    return approval.status === "pending" && approval.expires_at <= Date.now() ? { ...approval, status: "expired", reason: "expired" } : approval;
  }

  /** This conversation's approvals, newest first (the Approvals API's listing reads them through the tenant's directory). */
  async approvals(tenant: string, status: ApprovalStatus | null): Promise<Approval[] | null> {
    if (!(await this.existing(tenant))) return null;
    return this.book.all(status);
  }

  /**
   * Decides approvals of the parked step, all or none; when that decides the whole step, its
   * continuation starts: `spec` when a door made one (a Responses request), else one made from the
   * run that parked, in the background.
   */
  async decide(tenant: string, decisions: Array<{ id: string } & Decision>, spec: RunSpec | null, follow: boolean): Promise<DecisionOutcome> {
    const missing = { status: "not_found" as const, id: decisions[0]?.id ?? "" };
    const row = await this.existing(tenant);
    if (!row) return missing;
    const origin = this.book.parked()?.origin;
    const now = Date.now();
    const next = spec ?? (origin ? this.continuationOf(origin, now) : null);
    let outcome: DecideOutcome = missing;
    this.ctx.storage.transactionSync(() => {
      // A door that made the continuation (a Responses request) answers the whole step at once.
      outcome = this.book.decide(decisions, now, next?.id ?? "", spec !== null);
    });
    const decided = outcome as DecideOutcome;
    if (decided.status === "expired") {
      // The step's last call expired just now: it continues as the alarm would have continued it.
      if (decided.continue && origin) await this.continueParked(this.continuationOf(origin, now), false);
      await this.indexApprovals(tenant, [decided.approval, ...(this.book.parked()?.approvals ?? [])]);
      return decided;
    }
    if (decided.status !== "ok") return decided;
    const result: DecisionOutcome = { ...decided };
    if (decided.continue && next) {
      const started = await this.continueParked(next, follow);
      result.approvals = started.approvals.filter((approval) => decisions.some((decision) => decision.id === approval.id));
      result.continuation = started.continuation;
      result.events = started.events;
    }
    await this.indexApprovals(tenant, [...result.approvals, ...(this.book.parked()?.approvals ?? [])]);
    return result;
  }

  /** A continuation nobody made for us (a decision through the API, an expiry): its response id, if any, names this home. */
  private continuationOf(origin: RunSpec, now: number): RunSpec {
    return continuationSpec(origin, `${this.ctx.id.toString()}${randomToken(16)}`, now);
  }

  /** Starts the run that continues the parked step, recorded on its approvals. */
  private async continueParked(spec: RunSpec, follow: boolean) {
    const continuation = { run_id: spec.id, response_id: spec.door.kind === "responses" ? spec.door.shell.id : null };
    const ids = this.book.parked()?.approvals.map((approval) => approval.id) ?? [];
    const approvals = this.book.noteContinuation(ids, continuation);
    const events = await this.startRun(spec, follow);
    return { approvals, continuation, events };
  }

  /** Pending approvals past their time count as denied (`expired`); a parked step that leaves fully decided continues. */
  private async expireApprovals(tenant: string): Promise<void> {
    const now = Date.now();
    if ((this.book.nextExpiry() ?? Number.POSITIVE_INFINITY) > now) return;
    const origin = this.book.parked()?.origin;
    const spec = origin ? this.continuationOf(origin, now) : null;
    let continues = false;
    this.ctx.storage.transactionSync(() => {
      continues = this.book.expireDue(now, spec?.id ?? "");
    });
    if (continues && spec) await this.continueParked(spec, false);
    await this.indexApprovals(
      tenant,
      this.book.all(null).filter((approval) => approval.decided_at === now),
    );
  }

  /**
   * An MCP client's call of a tool that waits for a person: `run` once a person approved this very
   * call (its decision is used up), else the approval it waits on (made now when there is none).
   */
  async gateCall(tenant: string, conversationId: string, request: Approval): Promise<GateOutcome> {
    if (!(await this.existing(tenant, conversationId))) await this.create({ tenant, conversationId, fresh: true, waitMs: 0 });
    const row = this.row();
    if (!row || row.deleted_at !== null || row.tenant !== tenant) return { status: "gone" };
    let outcome: GateOutcome = { status: "run" };
    this.ctx.storage.transactionSync(() => {
      outcome = this.book.gateCall(request, Date.now());
    });
    const gated = outcome as GateOutcome;
    if (gated.status === "denied" || gated.status === "pending") await this.indexApprovals(tenant, [gated.approval]);
    await this.schedule();
    return gated;
  }

  /**
   * A continuation that ended without committing ends its turn there (see ApprovalBook.abandon). A webhook turn's continuation that answered sends the hook's callback
   * through the consumer, as a turn that never parked does.
   */
  private runEnded(spec: RunSpec, terminal: TerminalEvent): void {
    this.releaseSlots(spec);
    if (!spec.turn.continueParked) return;
    const answered = terminal.type === "completed" || terminal.type === "replayed";
    if (!answered && this.book.abandon(spec.id)) {
      console.warn(JSON.stringify({ event: "approval_continuation_failed", run_id: spec.id, ended: terminal.type }));
      // Turns refused while it waited may take the conversation now, unless a turn holds it (this run's own work may still be finishing).
      const row = this.row();
      if (row && !this.leaseHeld(row)) this.handOver();
    }
    if (!spec.notify || terminal.type !== "completed" || terminal.result.approvals) return;
    const content = terminal.result.completion.choices[0]?.message.content;
    const { hook, delivery_id, conversation_id } = spec.notify;
    const job: WebhookJob = { kind: "continued", hook, delivery_id, conversation_id, run_id: spec.id, answer: typeof content === "string" ? content : null };
    this.ctx.waitUntil(
      jobQueue(this.env)
        .send(job)
        .catch((error: unknown) => console.error(JSON.stringify({ event: "webhook_continuation_not_queued", run_id: spec.id, message: String(error) }))),
    );
  }

  /** The concurrency slots a run's request took (its key's, its tenant's) go back to their objects. */
  private releaseSlots(spec: RunSpec): void {
    for (const meter of spec.turn.meters ?? []) {
      if (!meter.slot) continue;
      const stub = this.env.KEY_HOME.get(this.env.KEY_HOME.idFromName(meter.name));
      this.ctx.waitUntil(
        stub.release(meter.slot).catch((error: unknown) => console.warn(JSON.stringify({ event: "key_slot_not_released", message: String(error) }))),
      );
    }
  }

  /** The tenant's directory lists approvals across conversations: it is told of every change (an index; the home is the truth). */
  private async indexApprovals(tenant: string, approvals: readonly Approval[]): Promise<void> {
    if (approvals.length === 0) return;
    await directoryOf(this.env, tenant)
      .noteApprovals([...approvals])
      .catch((error: unknown) => console.warn(JSON.stringify({ event: "approval_index_failed", message: String(error) })));
  }

  // --- turns -------------------------------------------------------------------------------------

  async begin(request: BeginRequest): Promise<BeginOutcome> {
    if (!this.row()) {
      this.starting++;
      try {
        await this.create(request);
      } finally {
        this.starting--;
      }
    }
    // Read again: another turn may have come in (and taken the lease) while this one created the home.
    const row = this.row() as HomeRow;
    if (row.deleted_at !== null || row.tenant !== request.tenant) return { status: "gone" };
    if (request.idempotencyKey) {
      const done = this.sql
        .exec<{ record: string }>("SELECT record FROM idempotency WHERE key = ? AND expires_at > ?", request.idempotencyKey, Date.now())
        .toArray()[0];
      if (done) return { status: "replay", record: done.record };
    }
    // A run continuing after its instance died takes back the lease it held.
    if (request.token !== undefined && row.lease_token === request.token) return this.grant(request);
    const parked = this.parkedRefusal(request);
    if (parked) return parked;
    if (this.waiting.length === 0 && !this.leaseHeld(row)) return this.grant(request);
    if (this.waiting.length >= MAX_WAITING_TURNS) return { status: "busy", retryAfterMs: 1_000 };
    return new Promise<BeginOutcome>((resolve) => {
      const waiter: Waiter = {
        request,
        resolve,
        timer: setTimeout(() => {
          const index = this.waiting.indexOf(waiter);
          if (index >= 0) this.waiting.splice(index, 1);
          resolve({ status: "busy", retryAfterMs: 1_000 });
        }, request.waitMs),
      };
      this.waiting.push(waiter);
      this.watchLease();
    });
  }

  /** While turns wait, the lease ahead of them is watched: one that runs out unrenewed is handed on. */
  private watchLease(): void {
    if (this.leaseTimer !== null) return;
    const row = this.row();
    if (!row || row.lease_token === null || this.waiting.length === 0) return;
    this.leaseTimer = setTimeout(
      () => {
        this.leaseTimer = null;
        const current = this.row();
        if (current && current.lease_token !== null && !this.leaseHeld(current)) {
          this.freeLease(current.lease_token);
          this.handOver();
        }
        this.watchLease();
      },
      Math.max(0, row.lease_until - Date.now()) + 1,
    );
  }

  /** Keeps a long turn's lease; false once it was lost (it expired and the next turn took it). */
  async renew(token: string): Promise<boolean> {
    return this.sql.exec("UPDATE home SET lease_until = ? WHERE lease_token = ?", Date.now() + LEASE_MS, token).rowsWritten > 0;
  }

  async commit(token: string | null, request: CommitRequest): Promise<CommitOutcome> {
    // A rescued turn may reach a home that was emptied meanwhile (its first turn released the lease
    // before it was rescued): it is created again to take the turn.
    if (token === null && request.owner && !this.row()) await this.create({ ...request.owner, fresh: true, waitMs: 0 });
    const row = this.row();
    if (!row || row.deleted_at !== null) return { status: "gone" };
    // A rescued turn (token null) was answered under a lease that has since ended: it is appended
    // once, whoever holds the conversation now.
    if (token !== null && row.lease_token !== token) return { status: "lost" };
    if (token === null && this.sql.exec("SELECT 1 FROM turns WHERE id = ?", request.turn.id).toArray().length > 0) return { status: "ok" };
    const now = Date.now();
    let outcome: CommitOutcome = { status: "ok" };
    try {
      this.ctx.storage.transactionSync(() => {
        const bytes = this.writeTurn(request.turn, request.maxBytes);
        if (bytes > request.maxBytes) {
          outcome = { status: "too_large", bytes };
          throw new RollBack();
        }
        // The continuation of a parked step commits it: the conversation is free again (unless it parks anew).
        const continuing = this.book.continuationRun();
        if (continuing !== null && (token === continuing || request.turn.id === continuing)) this.book.unpark();
        this.writeProducts(request.turn.id, request.products, now);
        this.sql.exec(
          `UPDATE home SET updated_at = ?, ttl_seconds = ?, version = version + 1, write_due = COALESCE(write_due, ?)${token === null ? "" : ", lease_token = NULL, lease_until = 0"}`,
          now,
          request.ttlSeconds,
          now + WRITE_BEHIND_MS,
        );
      });
    } catch (error) {
      this.turnCache = null;
      if (error instanceof RollBack) return outcome;
      throw error;
    }
    if (token !== null) this.handOver();
    if (request.products.parked) await this.indexApprovals(row.tenant, request.products.parked.approvals);
    await this.schedule();
    return outcome;
  }

  /** The turn failed and stored nothing: the next turn in line takes the conversation. */
  async release(token: string): Promise<void> {
    if (!this.freeLease(token)) return;
    this.handOver();
    await this.schedule();
  }

  // --- reads -------------------------------------------------------------------------------------

  /** The stored turns as one JSON array, or null when there are none. */
  async read(tenant: string, conversationId: string): Promise<{ turns: string; bytes: number } | null> {
    const row = await this.existing(tenant, conversationId);
    if (!row) return null;
    const texts = this.turnTexts();
    return texts.length === 0 ? null : { turns: `[${texts.join(",")}]`, bytes: this.bytes() };
  }

  /** A StoredResponse as JSON. */
  async response(tenant: string, id: string): Promise<string | null> {
    const stored = (await this.existing(tenant)) ? this.responseRecord(id) : null;
    if (stored !== null) return stored;
    // Not committed with a turn: still running (perhaps before its conversation was created here), or ended without one.
    const run = this.runs.response(id, tenant);
    return run ? JSON.stringify(run) : null;
  }

  /** A MixedStep as JSON. */
  async mixedStep(tenant: string, callId: string): Promise<string | null> {
    if (!(await this.existing(tenant))) return null;
    return this.sql.exec<{ step: string }>("SELECT step FROM mixed_steps WHERE call_id = ?", callId).toArray()[0]?.step ?? null;
  }

  /** For the directory: whether this conversation has a committed turn yet. */
  async state(): Promise<HomeState> {
    const row = this.row();
    if (!row || row.deleted_at !== null) return { status: "empty" };
    const summary = this.summary(row);
    if (summary.turns > 0) return { status: "live", summary };
    if (this.inUse(row)) return { status: "pending" };
    // A first turn that never committed (its Worker died, or it failed): the object keeps nothing.
    await this.wipe();
    return { status: "empty" };
  }

  // --- deleting ----------------------------------------------------------------------------------

  async deleteResponse(tenant: string, id: string): Promise<boolean> {
    if (!(await this.existing(tenant))) return false;
    let found = false;
    this.ctx.storage.transactionSync(() => {
      found = this.sql.exec("DELETE FROM responses WHERE id = ?", id).rowsWritten > 0;
      found = this.runs.forgetResponse(id) || found;
      deleteParts(this.sql, `response:${id}`);
      if (found) this.sql.exec("UPDATE home SET version = version + 1, write_due = COALESCE(write_due, ?)", Date.now() + WRITE_BEHIND_MS);
    });
    if (found) await this.schedule();
    return found;
  }

  /**
   * Tombstones the conversation first (no turn in flight, queued or written behind can bring it
   * back), then removes the KV copy and the directory's entry. True when there was one to delete.
   */
  async remove(tenant: string, conversationId: string): Promise<boolean> {
    const row = await this.existing(tenant, conversationId);
    if (!row) return false;
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      for (const table of ["turns", "responses", "mixed_steps", "idempotency", "parts", "runs", "run_events", "approvals"])
        this.sql.exec(`DELETE FROM ${table}`);
      this.sql.exec("UPDATE home SET deleted_at = ?, updated_at = ?, lease_token = NULL, lease_until = 0, write_due = NULL", now, now);
    });
    this.turnCache = null;
    this.runs.abortAll();
    for (const waiter of this.waiting.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve({ status: "gone" });
    }
    // A KV write begun before the tombstone must land before the copy is removed, not after.
    await this.writing?.catch(() => undefined);
    // The copy cannot come back (the tombstone outlives it); a KV that refuses the delete only leaves a
    // cold copy that expires, and is logged.
    const copyRemoved = removeCopy(this.env.CONVERSATIONS, tenant, row.conversation_id).catch((error: unknown) =>
      console.warn(JSON.stringify({ event: "conversation_copy_not_removed", conversation_id: row.conversation_id, message: String(error) })),
    );
    await Promise.all([copyRemoved, directoryOf(this.env, tenant).remove(row.conversation_id)]);
    await this.schedule();
    return true;
  }

  // --- the alarm: the KV copy, expiry ------------------------------------------------------------

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    // Runs that were under way when a previous instance died are taken up from their checkpoints.
    this.runs.resumeStale();
    this.runs.prune(Date.now());
    const row = this.row();
    if (!row) {
      await this.schedule();
      return;
    }
    const now = Date.now();
    // Expired, or a tombstone that has outlived any copy that could bring it back: nothing is kept.
    if (row.updated_at + row.ttl_seconds * 1000 <= now && !this.inUse(row)) {
      if (row.deleted_at === null) await directoryOf(this.env, row.tenant).remove(row.conversation_id);
      // A turn that began while the directory was asked keeps the conversation alive.
      const after = this.row();
      if (after && !this.inUse(after)) {
        await this.wipe();
        return;
      }
    }
    if (row.deleted_at === null) await this.expireApprovals(row.tenant);
    if (row.deleted_at === null && row.write_due !== null && row.write_due <= now) await this.writeBehind(row);
    this.sql.exec("DELETE FROM idempotency WHERE expires_at <= ?", now);
    await this.schedule();
  }

  private async writeBehind(row: HomeRow): Promise<void> {
    const version = row.version;
    const summary = this.summary(row);
    const work = (async () => {
      await writeCopy(this.env.CONVERSATIONS, {
        tenant: row.tenant,
        conversationId: row.conversation_id,
        turns: this.turns(),
        responses: this.storedResponses(),
        summary,
        ttlSeconds: row.ttl_seconds,
      });
      await directoryOf(this.env, row.tenant).update(summary);
    })();
    this.writing = work;
    try {
      await work;
      // Commits made while the copy was written are due in their turn.
      this.sql.exec(
        "UPDATE home SET write_attempts = 0, write_due = CASE WHEN version > ? THEN ? ELSE NULL END WHERE deleted_at IS NULL",
        version,
        Date.now() + WRITE_BEHIND_MS,
      );
    } catch (error) {
      const attempts = row.write_attempts + 1;
      const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (attempts - 1));
      console.warn(JSON.stringify({ event: "conversation_copy_failed", conversation_id: row.conversation_id, attempts, message: String(error) }));
      this.sql.exec("UPDATE home SET write_attempts = ?, write_due = ? WHERE deleted_at IS NULL", attempts, Date.now() + delay);
    } finally {
      this.writing = null;
    }
  }

  // --- internals ---------------------------------------------------------------------------------

  /** Empties the object: its storage, its alarm and what this instance remembers of them. */
  private async wipe(): Promise<void> {
    this.runs.abortAll();
    await this.ctx.storage.deleteAll();
    this.alarmAt = null;
    this.turnCache = null;
    this.createTables();
  }

  private row(): HomeRow | null {
    return this.sql.exec<HomeRow>("SELECT * FROM home").toArray()[0] ?? null;
  }

  /**
   * The row, if it exists for this tenant and is not deleted. Reached by name, an object without
   * storage first takes back what KV's copy holds; reached by a response or call id, only a home
   * that exists can answer.
   */
  private async existing(tenant: string, conversationId: string | null = null): Promise<HomeRow | null> {
    const row = this.row() ?? (conversationId === null ? null : await this.rehydrate(tenant, conversationId));
    return row && row.deleted_at === null && row.tenant === tenant ? row : null;
  }

  private async create(request: BeginRequest): Promise<HomeRow> {
    if (!request.fresh) {
      const restored = await this.rehydrate(request.tenant, request.conversationId);
      if (restored) return restored;
    }
    const now = Date.now();
    this.sql.exec(
      "INSERT OR IGNORE INTO home (k, tenant, conversation_id, created_at, updated_at, ttl_seconds) VALUES (1, ?, ?, ?, ?, ?)",
      request.tenant,
      request.conversationId,
      now,
      now,
      86_400,
    );
    // Listed from the first turn on: the directory asks a pending entry's home whether it committed.
    const row = this.row() as HomeRow;
    await directoryOf(this.env, request.tenant)
      .register(request.conversationId, now)
      .catch((error: unknown) => console.warn(JSON.stringify({ event: "directory_register_failed", message: String(error) })));
    return row;
  }

  /** An object whose storage is gone (or a conversation from before homes) takes back KV's copy. */
  private async rehydrate(tenant: string, conversationId: string): Promise<HomeRow | null> {
    // KV down must not stop turns: a home that cannot read its copy starts empty (the copy is only
    // there for a home whose storage was lost, or a conversation from before homes), and says so.
    const copy = await readCopy(this.env.CONVERSATIONS, tenant, conversationId).catch((error: unknown) => {
      console.warn(JSON.stringify({ event: "conversation_copy_unreadable", conversation_id: conversationId, message: String(error) }));
      return null;
    });
    if (!copy || copy.turns.length === 0 || this.row()) return this.row();
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        "INSERT INTO home (k, tenant, conversation_id, created_at, updated_at, ttl_seconds, version) VALUES (1, ?, ?, ?, ?, ?, 1)",
        tenant,
        conversationId,
        copy.turns[0]?.started_at ?? now,
        now,
        copy.ttlSeconds,
      );
      for (const turn of copy.turns) this.writeTurn(turn, Number.POSITIVE_INFINITY);
      for (const response of copy.responses) this.writeProducts(response.turn_id, { response }, now);
    });
    this.turnCache = null;
    await directoryOf(this.env, tenant)
      .update(this.summary(this.row() as HomeRow))
      .catch(() => undefined);
    return this.row();
  }

  private leaseHeld(row: HomeRow): boolean {
    return row.lease_token !== null && row.lease_until > Date.now();
  }

  /** A turn holds the conversation, waits for it, or is creating the home: it must not be emptied. */
  private inUse(row: HomeRow): boolean {
    return this.leaseHeld(row) || this.waiting.length > 0 || this.starting > 0 || this.runs.hasPending() || this.book.hasOpen();
  }

  /** True when `token` held the lease. */
  private freeLease(token: string): boolean {
    return this.sql.exec("UPDATE home SET lease_token = NULL, lease_until = 0 WHERE lease_token = ?", token).rowsWritten > 0;
  }

  private grant(request: BeginRequest): BeginOutcome {
    const token = request.token ?? crypto.randomUUID();
    this.sql.exec("UPDATE home SET lease_token = ?, lease_until = ?", token, Date.now() + LEASE_MS);
    const outcome: BeginOutcome = { status: "ready", token, turns: request.fresh ? "[]" : `[${this.turnTexts().join(",")}]`, bytes: this.bytes() };
    const parked = this.book.parked();
    if (parked && request.token !== undefined && parked.continuation_run === request.token) outcome.parked = JSON.stringify(parked);
    return outcome;
  }

  /**
   * A parked turn holds its conversation until it is continued: another turn is refused, naming the
   * approvals it waits for (one that arrives while the continuation runs waits in line for it).
   */
  private parkedRefusal(request: BeginRequest): BeginOutcome | null {
    const parked = this.book.parked();
    if (!parked || parked.continuation_run !== null) return null;
    if (request.token !== undefined && request.token === parked.continuation_run) return null;
    return { status: "awaiting_approval", approvals: parked.approvals.filter((approval) => approval.status === "pending").map((approval) => approval.id) };
  }

  /** The conversation is free: the first turn in line takes it (in order of arrival). */
  private handOver(): void {
    const next = this.waiting.shift();
    if (!next) return;
    clearTimeout(next.timer);
    const refused = this.parkedRefusal(next.request);
    if (refused) {
      next.resolve(refused);
      this.handOver();
      return;
    }
    next.resolve(this.grant({ ...next.request, fresh: false }));
  }

  /** Writes the turn (replacing an earlier attempt of the same id); answers the conversation's size, its oldest traces given up first when over `maxBytes`. */
  private writeTurn(turn: TurnRecord, maxBytes: number): number {
    this.sql.exec("DELETE FROM turns WHERE id = ?", turn.id);
    const text = JSON.stringify(turn);
    const bytes = putParts(this.sql, `turn:${turn.id}`, text);
    this.sql.exec("INSERT INTO turns (id, bytes) VALUES (?, ?)", turn.id, bytes);
    if (this.turnCache) this.turnCache = [...this.turnCache.filter((cached) => cached.id !== turn.id), { id: turn.id, text }];
    let total = this.bytes();
    if (total <= maxBytes) return total;
    this.turnCache = null;
    // Traces are observations: they give way before a turn is refused.
    for (const earlier of this.turns()) {
      if (total <= maxBytes) break;
      if (!earlier.trace) continue;
      const { trace: _dropped, ...rest } = earlier;
      const smaller = putParts(this.sql, `turn:${earlier.id}`, JSON.stringify(rest));
      this.sql.exec("UPDATE turns SET bytes = ? WHERE id = ?", smaller, earlier.id);
      total = this.bytes();
    }
    this.turnCache = null;
    return total;
  }

  private writeProducts(turnId: string, products: TurnProducts, now: number): void {
    if (products.response) {
      this.sql.exec("INSERT OR REPLACE INTO responses (id, turn_id) VALUES (?, ?)", products.response.response.id, turnId);
      putParts(this.sql, `response:${products.response.response.id}`, JSON.stringify(products.response));
    }
    if (products.mixedStep) {
      this.sql.exec(
        "INSERT OR REPLACE INTO mixed_steps (call_id, turn_id, step) VALUES (?, ?, ?)",
        products.mixedStep.callId,
        turnId,
        JSON.stringify(products.mixedStep.step),
      );
    }
    if (products.parked) this.book.park(products.parked);
    if (products.runEnd) this.runs.noteCommitted(products.runEnd.runId, products.runEnd.terminal);
    if (products.idempotency) {
      const { key, record, retainMs } = products.idempotency;
      this.sql.exec("INSERT OR REPLACE INTO idempotency (key, record, expires_at) VALUES (?, ?, ?)", key, record, now + retainMs);
    }
  }

  private turnTexts(): string[] {
    if (!this.turnCache) {
      const ids = this.sql.exec<{ id: string }>("SELECT id FROM turns ORDER BY seq").toArray();
      this.turnCache = ids.flatMap(({ id }) => {
        const text = getParts(this.sql, `turn:${id}`);
        return text === null ? [] : [{ id, text }];
      });
    }
    return this.turnCache.map((cached) => cached.text);
  }

  private turns(): TurnRecord[] {
    return this.turnTexts().map((text) => JSON.parse(text) as TurnRecord);
  }

  private storedResponses(): StoredResponse[] {
    return this.sql
      .exec<{ id: string }>("SELECT id FROM responses")
      .toArray()
      .flatMap(({ id }) => {
        const text = getParts(this.sql, `response:${id}`);
        return text === null ? [] : [JSON.parse(text) as StoredResponse];
      });
  }

  private bytes(): number {
    return this.sql.exec<{ total: number | null }>("SELECT SUM(bytes) AS total FROM turns").one().total ?? 0;
  }

  private summary(row: HomeRow): ConversationSummary {
    const turns = this.turns();
    return {
      id: row.conversation_id,
      turns: turns.length,
      bytes: this.bytes(),
      title: titleOf(turns),
      created_at: turns[0]?.started_at ?? row.created_at,
      updated_at: turns.length > 0 ? Math.max(...turns.map((turn) => turn.completed_at)) : row.updated_at,
    };
  }

  /**
   * One alarm for whatever is due first: the KV copy, expiry (a lease needs none: an expired one is
   * free to the next turn, and waiting turns watch it in memory). Set only when it must move earlier.
   */
  private async schedule(): Promise<void> {
    const row = this.row();
    const runs = Math.min(this.runs.nextWake() ?? Number.POSITIVE_INFINITY, this.book.nextExpiry() ?? Number.POSITIVE_INFINITY);
    if (!row && runs === Number.POSITIVE_INFINITY) return;
    const due = row ? Math.min(row.updated_at + row.ttl_seconds * 1000, row.write_due ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY;
    // Never in the past: an expired conversation whose turn is still running is looked at again a second later.
    const next = Math.max(Date.now() + 1_000, Math.min(due, runs));
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (this.alarmAt !== null && this.alarmAt <= next) return;
    this.alarmAt = next;
    await this.ctx.storage.setAlarm(next);
  }
}

function notSystem(message: { role: string }): boolean {
  return message.role !== "system" && message.role !== "developer";
}

/** Thrown inside a transaction to undo it: the outcome says why. */
class RollBack extends Error {}
