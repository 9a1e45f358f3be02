// The run engine inside a conversation's home. A run is recorded before it starts, every event it
// produces is appended to its log (and handed to whoever follows it), and after every model call and
// tool call its checkpoint is written, in the same SQLite as the conversation. The run is driven in
// the object, not in the request that started it, so a client that goes away changes nothing; an
// object that dies mid-run (a restart, a deploy, an eviction) is woken by its alarm, which takes the
// run up again from its last checkpoint: a model answer already given is not asked for again, a tool
// that already ran is not run again.

import { deleteParts, getParts, putParts } from "../conversations/parts.js";
import type { StoredResponse } from "../conversations/turns.js";
import type { LedgerApi } from "../ledger/claims.js";
import type { LoopCheckpoint } from "../loop/tool-loop.js";
import type { ResponseObject } from "../protocol/responses/types.js";
import type { Services } from "../services.js";
import { completedEvent, executeRun, executeToolTask, RunCancelledError } from "./execute.js";
import { doorProducts, doorRecord, responsesRecord } from "./products.js";
import { ResponsesView } from "./responses-view.js";
import type { RunEvent, RunFailure, RunSpec, RunState, RunStatus, TerminalEvent } from "./types.js";
import { isTerminal, TERMINAL_STATUSES } from "./types.js";

/** A run whose object died is taken up again this soon by the object's alarm. */
export const RUN_WATCHDOG_MS = 5_000;
/** How a run ends that could not be taken up again. */
const GIVEN_UP: RunFailure = {
  status: 500,
  body: { error: { message: "The run could not be continued after its object restarted.", type: "server_error", param: null, code: "run_lost" } },
  headers: {},
};
/** How a run that answered ends: asking for it again replays that. */
const ANSWERS: ReadonlySet<string> = new Set(["completed", "replayed", "tool_completed"]);
/** A run still not ended this long after its deadline is marked failed instead of taken up again. */
const RUN_GIVE_UP_AFTER_MS = 60_000;
/** How long an ended run stays readable in its home. */
export const RUN_RETAIN_MS = 86_400_000;

export const RUN_TABLES = [
  `CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    response_id TEXT,
    status TEXT NOT NULL,
    background INTEGER NOT NULL,
    checkpoint_seq INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL DEFAULT 0,
    deadline_at INTEGER NOT NULL
  )`,
  "CREATE INDEX IF NOT EXISTS runs_by_response ON runs (response_id)",
  "CREATE TABLE IF NOT EXISTS run_events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (run_id, seq))",
];

/** Columns added after a table first shipped: added to an existing object's table when missing. */
const RUN_COLUMNS: ReadonlyArray<[table: string, column: string, definition: string]> = [["runs", "committed_end", "TEXT"]];

/** Creates the run engine's tables, and adds the columns an older object's tables lack. */
export function createRunTables(sql: SqlStorage): void {
  for (const statement of RUN_TABLES) sql.exec(statement);
  for (const [table, column, definition] of RUN_COLUMNS) {
    const present = sql
      .exec<{ name: string }>(`PRAGMA table_info(${table})`)
      .toArray()
      .some((row) => row.name === column);
    if (!present) sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
  }
}

interface RunRow {
  id: string;
  response_id: string | null;
  status: RunStatus;
  background: number;
  checkpoint_seq: number;
  created_at: number;
  updated_at: number;
  deadline_at: number;
  /** The end its turn committed with (same transaction): a run that died before it ended ends with this, not again. */
  committed_end: string | null;
  [column: string]: SqlStorageValue;
}

type Follower = (line: string, end: boolean) => void;

export interface RunHostDeps {
  ctx: DurableObjectState;
  sql: SqlStorage;
  /** What a run needs (model, homes, registry), built for each run it drives. */
  services: () => Services;
  /** Sets the object's alarm for whatever is due first (a run's watchdog among it). */
  schedule: () => Promise<void>;
  /** The Idempotency-Key claims a run settles when it ends. */
  claims: LedgerApi;
  /** Told once when a run ends, how it ended. */
  ended?: (spec: RunSpec, terminal: TerminalEvent) => void;
  /** Told of a spec that asked for a run already under way or answered: it will not run. */
  unused?: (spec: RunSpec) => void;
}

/** A cancelled run, with the response it ended with when it is a Responses run. */
export type CancelOutcome =
  | { status: "cancelled"; response: ResponseObject | null }
  | { status: "not_cancellable"; reason: "finished" | "not_background" }
  | null;

export class RunHost {
  /** Runs this instance is driving, to cancel them. After a restart it is empty: the alarm takes the rest up. */
  private readonly active = new Map<string, AbortController>();
  private readonly followers = new Map<string, Set<Follower>>();
  /** The Responses views of the runs this instance drives: a poll reads them instead of replaying the log. */
  private readonly views = new Map<string, ResponsesView>();
  /** Runs this instance ended while their work may still be finishing (a cancel). */
  private readonly ended = new Set<string>();
  /** The last event number of each run this instance drives (a foreground run's events are not all stored). */
  private readonly sequence = new Map<string, number>();

  constructor(private readonly deps: RunHostDeps) {}

  /** Records the run and starts it; answers its event log as a stream when the caller follows it. */
  start(spec: RunSpec, follow: boolean): ReadableStream<Uint8Array> | null {
    const existing = this.row(spec.id);
    // The same run asked for again (a redelivered webhook job, a retried Idempotency-Key): while it runs,
    // follow it; once it answered, its end is replayed. A run that failed (its deadline included) or
    // was cancelled runs again.
    const answered = existing && TERMINAL_STATUSES.has(existing.status) && ANSWERS.has(this.lastEvent(spec.id)?.type ?? "");
    if (existing && (!TERMINAL_STATUSES.has(existing.status) || answered)) {
      // This spec does not run (the run it names does, or did): what it holds for itself is given back.
      this.notifyUnused(spec);
      if (!follow) return null;
      // A retried Idempotency-Key is answered as a replay of the answer the run gave.
      const replay = spec.idempotency && answered ? this.replayOf(spec) : null;
      return replay ? once(replay) : this.follow(spec.id, 0);
    }
    const responseId = spec.door.kind === "responses" ? spec.door.shell.id : null;
    this.deps.ctx.storage.transactionSync(() => {
      if (existing) this.forget(spec.id);
      this.deps.sql.exec(
        "INSERT INTO runs (id, response_id, status, background, created_at, updated_at, deadline_at) VALUES (?, ?, 'queued', ?, ?, ?, ?)",
        spec.id,
        responseId,
        spec.background ? 1 : 0,
        spec.createdAt,
        spec.createdAt,
        spec.createdAt + spec.turn.deadlineMs,
      );
      putParts(this.deps.sql, specKey(spec.id), JSON.stringify(spec));
    });
    this.ended.delete(spec.id);
    this.sequence.delete(spec.id);
    // Subscribed before the first event, so the caller misses none.
    const stream = follow ? this.follow(spec.id, 0) : null;
    this.drive(spec, false);
    return stream;
  }

  /** The run's events after `after`, then the live ones until it ends, as NDJSON lines `{seq, event}`. */
  follow(runId: string, after: number): ReadableStream<Uint8Array> {
    const encoder = new TextEncoder();
    let follower: Follower | null = null;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        const current = this.row(runId);
        // A run no instance drives yet (its object restarted) will run its interrupted step again:
        // only what its checkpoint covers is served; the rest is sent again as it is regenerated.
        const upTo = current && !TERMINAL_STATUSES.has(current.status) && !this.active.has(runId) ? current.checkpoint_seq : Number.MAX_SAFE_INTEGER;
        for (const { seq, event } of this.deps.sql.exec<{ seq: number; event: string }>(
          "SELECT seq, event FROM run_events WHERE run_id = ? AND seq > ? AND seq <= ? ORDER BY seq",
          runId,
          after,
          upTo,
        )) {
          controller.enqueue(encoder.encode(line(seq, event)));
        }
        const row = this.row(runId);
        if (!row || TERMINAL_STATUSES.has(row.status)) {
          controller.close();
          return;
        }
        const own: Follower = (text, end) => {
          try {
            controller.enqueue(encoder.encode(text));
            if (end) controller.close();
          } catch {
            this.followers.get(runId)?.delete(own);
          }
        };
        follower = own;
        const set = this.followers.get(runId) ?? new Set<Follower>();
        this.followers.set(runId, set);
        set.add(own);
      },
      cancel: () => {
        if (follower) this.followers.get(runId)?.delete(follower);
      },
    });
  }

  /** Stops a background run between steps: no further model or tool call starts. */
  cancel(runId: string): CancelOutcome {
    const row = this.row(runId);
    const spec = row ? this.spec(runId) : null;
    if (!row || !spec) return null;
    if (!row.background) return { status: "not_cancellable", reason: "not_background" };
    if (row.status !== "cancelled") {
      if (TERMINAL_STATUSES.has(row.status)) return { status: "not_cancellable", reason: "finished" };
      // Its turn is committed already (the run is between its commit and its end): it has finished.
      if (this.deps.sql.exec("SELECT 1 FROM turns WHERE id = ?", spec.turn.turnId ?? spec.id).toArray().length > 0) {
        return { status: "not_cancellable", reason: "finished" };
      }
      this.end(spec, { type: "cancelled" });
      this.active.get(runId)?.abort(new RunCancelledError());
    }
    return { status: "cancelled", response: this.storedResponse(runId) };
  }

  state(runId: string): RunState | null {
    const row = this.row(runId);
    const spec = row ? this.spec(runId) : null;
    if (!row || !spec) return null;
    const terminal = TERMINAL_STATUSES.has(row.status) ? this.lastEvent(runId) : null;
    return {
      id: row.id,
      status: row.status,
      background: row.background === 1,
      tenant: spec.turn.tenant,
      conversationId: spec.turn.conversationId,
      door: spec.door,
      createdAt: row.created_at,
      updatedAt: row.updated_at || row.created_at,
      terminal: terminal && isTerminal(terminal) ? terminal : null,
    };
  }

  /** The run that answers this response, if it is this tenant's (when one is given). */
  runOfResponse(responseId: string, tenant?: string): string | null {
    const runId =
      this.deps.sql.exec<{ id: string }>("SELECT id FROM runs WHERE response_id = ? ORDER BY created_at DESC LIMIT 1", responseId).toArray()[0]?.id ?? null;
    if (runId === null || tenant === undefined) return runId;
    return this.spec(runId)?.turn.tenant === tenant ? runId : null;
  }

  /** A response whose run has not committed it (still running, failed, cancelled), as it stands. */
  response(responseId: string, tenant: string): StoredResponse | null {
    const runId = this.runOfResponse(responseId, tenant);
    const row = runId ? this.row(runId) : null;
    const spec = runId ? this.spec(runId) : null;
    if (!row || !spec || spec.door.kind !== "responses") return null;
    const response = TERMINAL_STATUSES.has(row.status) ? this.storedResponse(row.id) : this.currentView(spec).response;
    return response ? { conversation_id: spec.turn.conversationId, turn_id: spec.turn.turnId ?? spec.id, response } : null;
  }

  /** DELETE /v1/responses/{id}: a finished run's response goes with it (a running one is left to finish). */
  forgetResponse(responseId: string): boolean {
    const runId = this.runOfResponse(responseId);
    const row = runId ? this.row(runId) : null;
    if (!row || !TERMINAL_STATUSES.has(row.status)) return false;
    this.forget(row.id);
    return true;
  }

  spec(runId: string): RunSpec | null {
    const text = getParts(this.deps.sql, specKey(runId));
    return text === null ? null : (JSON.parse(text) as RunSpec);
  }

  /** Runs that were under way when this object's previous instance died: driven again from their checkpoints. */
  resumeStale(): void {
    const now = Date.now();
    for (const row of this.deps.sql.exec<RunRow>("SELECT * FROM runs WHERE status IN ('queued', 'in_progress') ORDER BY created_at").toArray()) {
      if (this.active.has(row.id)) continue;
      const spec = this.spec(row.id);
      if (!spec) {
        this.forget(row.id);
        continue;
      }
      try {
        // Its turn committed, then the object died before the run ended: it ends as it answered, it does not run again.
        if (row.committed_end) this.end(spec, JSON.parse(row.committed_end) as TerminalEvent);
        // Long past its deadline and still not ended: whatever keeps failing it is not tried again.
        else if (now > row.deadline_at + RUN_GIVE_UP_AFTER_MS) this.end(spec, { type: "failed", failure: GIVEN_UP });
        else this.drive(spec, true);
      } catch (error) {
        console.error(JSON.stringify({ event: "run_not_resumed", run_id: row.id, message: String(error) }));
        this.active.delete(row.id);
        this.end(spec, { type: "failed", failure: GIVEN_UP });
      }
    }
  }

  /** Ended runs are kept a day (a redelivered job, a poll, a resumed stream read them), then forgotten. */
  prune(now: number): void {
    const old = this.deps.sql
      .exec<{ id: string }>("SELECT id FROM runs WHERE status NOT IN ('queued', 'in_progress') AND created_at < ?", now - RUN_RETAIN_MS)
      .toArray();
    for (const { id } of old) this.forget(id);
  }

  /** When the alarm must look at the runs again: while any is under way, every watchdog interval; else when the oldest ended one is due to go. */
  nextWake(): number | null {
    if (this.hasPending()) return Date.now() + RUN_WATCHDOG_MS;
    const oldest = this.deps.sql.exec<{ at: number | null }>("SELECT MIN(created_at) AS at FROM runs").one().at;
    return oldest === null ? null : oldest + RUN_RETAIN_MS;
  }

  /** A run is under way (or waiting to be taken up again): the home must not be emptied. */
  hasPending(): boolean {
    return this.deps.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM runs WHERE status IN ('queued', 'in_progress')").one().n > 0;
  }

  private notifyUnused(spec: RunSpec): void {
    try {
      this.deps.unused?.(spec);
    } catch (error) {
      console.error(JSON.stringify({ event: "run_unused_hook_failed", run_id: spec.id, message: String(error) }));
    }
  }

  /** Inside the commit's transaction: the run's turn is stored, and this is how the run ends. */
  noteCommitted(runId: string, terminal: TerminalEvent): void {
    this.deps.sql.exec("UPDATE runs SET committed_end = ? WHERE id = ?", JSON.stringify(terminal), runId);
  }

  /** The conversation is deleted: every run stops where it is. */
  abortAll(): void {
    for (const controller of this.active.values()) controller.abort(new RunCancelledError());
    for (const set of this.followers.values()) for (const follower of set) follower("", true);
    this.followers.clear();
  }

  // --- driving -----------------------------------------------------------------------------------

  private drive(spec: RunSpec, resumed: boolean): void {
    const controller = new AbortController();
    this.active.set(spec.id, controller);
    // A resumed run's interrupted step runs again from its checkpoint: that step's events go first.
    if (resumed) {
      this.deps.sql.exec("DELETE FROM run_events WHERE run_id = ? AND seq > ?", spec.id, (this.row(spec.id) as RunRow).checkpoint_seq);
      this.sequence.delete(spec.id);
    }
    const view = spec.door.kind === "responses" ? this.view(spec) : null;
    if (view) this.views.set(spec.id, view);
    let checkpoint: LoopCheckpoint | undefined;
    if (resumed) {
      const text = getParts(this.deps.sql, checkpointKey(spec.id));
      if (text !== null) checkpoint = JSON.parse(text) as LoopCheckpoint;
    } else {
      this.deps.sql.exec("UPDATE runs SET status = 'in_progress', updated_at = ? WHERE id = ?", Date.now(), spec.id);
      const seq = this.append(spec.id, { type: "started" }, keepsEvents(spec));
      view?.apply({ type: "started" });
      this.deps.sql.exec("UPDATE runs SET checkpoint_seq = ? WHERE id = ?", seq, spec.id);
    }
    const row = this.row(spec.id) as RunRow;
    const services = this.deps.services();
    const running =
      spec.door.kind === "mcp_task"
        ? executeToolTask(services, spec, spec.door, controller.signal)
        : executeRun(
            services,
            spec,
            {
              event: (event) => {
                this.append(spec.id, event, keepsEvents(spec));
                view?.apply(event);
              },
              checkpoint: (next) => this.saveCheckpoint(spec.id, next),
            },
            {
              signal: controller.signal,
              // A run past its deadline when it is taken up again ends at once, as `incomplete`.
              deadlineMs: Math.max(1, row.deadline_at - Date.now()),
              // The run's end commits with its turn: should the object die before the run ends, it ends with this.
              products: (completed) => ({ ...doorProducts(spec, view, completed), runEnd: { runId: spec.id, terminal: completedEvent(completed, services) } }),
              ...(checkpoint ? { resume: checkpoint } : {}),
            },
          );
    const work = running
      .then((terminal) => {
        // A cancelled run started again meanwhile is another run: this work ends only its own.
        if (this.active.get(spec.id) === controller) this.end(spec, terminal, view);
      })
      .catch((error: unknown) => console.error(JSON.stringify({ event: "run_not_ended", run_id: spec.id, message: String(error) })))
      .finally(() => {
        if (this.active.get(spec.id) === controller) {
          this.active.delete(spec.id);
          this.views.delete(spec.id);
        }
        void this.deps.schedule();
      });
    this.deps.ctx.waitUntil(work);
    void this.deps.schedule();
  }

  /** The run's Responses view as it stands: the live one of a run this instance drives, else rebuilt from its log. */
  currentView(spec: RunSpec): ResponsesView {
    return this.views.get(spec.id) ?? this.view(spec);
  }

  /** The run's Responses view, rebuilt from its log. */
  view(spec: RunSpec): ResponsesView {
    if (spec.door.kind !== "responses") throw new Error("Only a Responses run has a Responses view.");
    const view = new ResponsesView(spec.door);
    for (const { event } of this.deps.sql.exec<{ event: string }>("SELECT event FROM run_events WHERE run_id = ? ORDER BY seq", spec.id)) {
      view.apply(JSON.parse(event) as RunEvent);
    }
    return view;
  }

  /**
   * Hands the event to the run's followers, and keeps it when someone may read it later: every
   * event of a background run (a resumed stream replays them), the end of any run. A foreground
   * run's deltas and steps are its connected reader's alone, so they cost no write.
   */
  private append(runId: string, event: RunEvent, keep: boolean): number {
    // Work that outlived its run's end (a tool result after a cancel) adds nothing to it.
    if (this.ended.has(runId) && !isTerminal(event)) return this.sequence.get(runId) ?? 0;
    const seq = (this.sequence.get(runId) ?? this.lastSeq(runId)) + 1;
    this.sequence.set(runId, seq);
    const text = JSON.stringify(event);
    const end = isTerminal(event);
    if (keep || end) this.deps.sql.exec("INSERT INTO run_events (run_id, seq, event) VALUES (?, ?, ?)", runId, seq, text);
    const set = this.followers.get(runId);
    if (set) for (const follower of set) follower(line(seq, text), end);
    if (end) {
      this.followers.delete(runId);
      this.sequence.delete(runId);
    }
    return seq;
  }

  private lastSeq(runId: string): number {
    return this.deps.sql.exec<{ last: number | null }>("SELECT MAX(seq) AS last FROM run_events WHERE run_id = ?", runId).one().last ?? 0;
  }

  private saveCheckpoint(runId: string, checkpoint: LoopCheckpoint): void {
    if (this.ended.has(runId)) return;
    writeCheckpoint(this.deps.ctx.storage, runId, checkpoint);
  }

  /** Ends the run once: its status, its response as it ended, its terminal event. A cancelled run ignores how its work ended. */
  private end(spec: RunSpec, terminal: TerminalEvent, given: ResponsesView | null = null): void {
    const row = this.row(spec.id);
    if (!row || TERMINAL_STATUSES.has(row.status)) return;
    const view = spec.door.kind === "responses" ? (given ?? this.view(spec)) : null;
    view?.apply(terminal);
    const status = statusOf(terminal, view);
    this.deps.ctx.storage.transactionSync(() => {
      this.deps.sql.exec("UPDATE runs SET status = ?, updated_at = ? WHERE id = ?", status, Date.now(), spec.id);
      deleteParts(this.deps.sql, checkpointKey(spec.id));
      if (view) putParts(this.deps.sql, responseKey(spec.id), JSON.stringify(view.response));
    });
    this.append(spec.id, terminal, true);
    this.ended.add(spec.id);
    this.settleClaim(spec, terminal, view);
    try {
      this.deps.ended?.(spec, terminal);
    } catch (error) {
      console.error(JSON.stringify({ event: "run_end_hook_failed", run_id: spec.id, message: String(error) }));
    }
    // Only a background run's stream can be resumed; a run someone waited for keeps only its end (a
    // redelivered job that asks for the same run reads it there).
    if (!spec.background)
      this.deps.sql.exec("DELETE FROM run_events WHERE run_id = ? AND seq < (SELECT MAX(seq) FROM run_events WHERE run_id = ?)", spec.id, spec.id);
  }

  private lastEvent(runId: string): RunEvent | null {
    const last = this.deps.sql.exec<{ event: string }>("SELECT event FROM run_events WHERE run_id = ? ORDER BY seq DESC LIMIT 1", runId).toArray()[0];
    return last ? (JSON.parse(last.event) as RunEvent) : null;
  }

  /** The answer a completed run gave, as the record its Idempotency-Key replays. */
  private replayOf(spec: RunSpec): TerminalEvent | null {
    const terminal = this.lastEvent(spec.id);
    if (terminal?.type === "replayed") return terminal;
    if (terminal?.type !== "completed") return null;
    if (spec.door.kind === "responses") {
      // The response it ended with is kept beside the run.
      const response = this.storedResponse(spec.id);
      return response ? { type: "replayed", record: JSON.stringify(responsesRecord(spec.door, spec.turn.conversationId, response)) } : null;
    }
    return { type: "replayed", record: JSON.stringify(doorRecord(spec, null, terminal.result)) };
  }

  /** The key's claim is settled with the answer (a retry replays it) or released (a retry runs again). */
  private settleClaim(spec: RunSpec, terminal: TerminalEvent, view: ResponsesView | null): void {
    const claim = spec.idempotency;
    if (!claim || spec.background) return;
    let settling: Promise<unknown>;
    if (terminal.type === "completed") {
      const record = JSON.stringify(doorRecord(spec, view, terminal.result));
      settling = this.deps.claims.settle(claim.key, claim.token, record, claim.retainMs);
    } else if (terminal.type === "replayed") {
      settling = this.deps.claims.settle(claim.key, claim.token, terminal.record, claim.retainMs);
    } else {
      settling = this.deps.claims.release(claim.key, claim.token);
    }
    this.deps.ctx.waitUntil(
      settling.catch((error: unknown) => console.warn(JSON.stringify({ event: "idempotency_not_settled", run_id: spec.id, message: String(error) }))),
    );
  }

  private storedResponse(runId: string): ResponseObject | null {
    const text = getParts(this.deps.sql, responseKey(runId));
    return text === null ? null : (JSON.parse(text) as ResponseObject);
  }

  private forget(runId: string): void {
    this.ended.delete(runId);
    this.deps.sql.exec("DELETE FROM runs WHERE id = ?", runId);
    this.deps.sql.exec("DELETE FROM run_events WHERE run_id = ?", runId);
    for (const key of [specKey(runId), checkpointKey(runId), responseKey(runId)]) deleteParts(this.deps.sql, key);
  }

  private row(runId: string): RunRow | null {
    return this.deps.sql.exec<RunRow>("SELECT * FROM runs WHERE id = ?", runId).toArray()[0] ?? null;
  }
}

/**
 * Whether a run's events are written as they come: a background run's (a resumed stream replays them)
 * and a Responses run's (its response is built from them, after a restart too). A chat run's deltas
 * and steps are its reader's alone.
 */
function keepsEvents(spec: RunSpec): boolean {
  return spec.background || spec.door.kind === "responses";
}

function statusOf(terminal: TerminalEvent, view: ResponsesView | null): RunStatus {
  if (terminal.type === "replayed") return "completed";
  if (view) return view.response.status as RunStatus;
  if (terminal.type === "failed") return "failed";
  if (terminal.type === "cancelled") return "cancelled";
  return "completed";
}

/**
 * A run's checkpoint and how far its event log had got, in one transaction: what the engine pays
 * after every model call and tool call (`npm run bench` measures it).
 */
export function writeCheckpoint(storage: DurableObjectStorage, runId: string, checkpoint: LoopCheckpoint): void {
  storage.transactionSync(() => {
    putParts(storage.sql, checkpointKey(runId), JSON.stringify(checkpoint));
    storage.sql.exec("UPDATE runs SET checkpoint_seq = (SELECT COALESCE(MAX(seq), 0) FROM run_events WHERE run_id = ?) WHERE id = ?", runId, runId);
  });
}

/** A stream of one event. */
function once(event: RunEvent): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(line(1, JSON.stringify(event)));
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

function line(seq: number, event: string): string {
  return `{"seq":${seq},"event":${event}}\n`;
}

const specKey = (runId: string) => `run:${runId}:spec`;
const checkpointKey = (runId: string) => `run:${runId}:checkpoint`;
const responseKey = (runId: string) => `run:${runId}:response`;
