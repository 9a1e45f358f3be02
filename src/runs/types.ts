// A run is one turn as the engine keeps it: what a door asked for (its spec), the events it produced
// in order (what every door's view is built from, and what a client that lost its stream resumes
// from), its status, and the checkpoint it continues from should the instance running it die.
// Everything here crosses a Durable Object's RPC boundary, so it is plain data.

import type { ToolCallContext } from "../../kit/protocol.js";
import type { Approval } from "../approvals/types.js";
import type { StreamDelta } from "../loop/model-port.js";
import type { LoopCheckpoint } from "../loop/tool-loop.js";
import type { CallToolResult } from "../mcp/protocol.js";
import type { ResponseObject } from "../protocol/responses/types.js";
import type { ChatCompletion, JsonObject, OpenAIErrorBody, ToolCall, Usage } from "../protocol/types.js";
import type { TurnRequest } from "../run-turn.js";

export type RunStatus = "queued" | "in_progress" | "completed" | "failed" | "cancelled" | "incomplete";

export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set(["completed", "failed", "cancelled", "incomplete"]);

/** The turn a run runs: a TurnRequest without what only lives in memory (the client's signal, a checkpoint). */
export type RunTurn = Omit<TurnRequest, "signal" | "resume" | "leaseToken">;

export interface RunSpec {
  /** The run's id: its turn's id, and the token its lease on the conversation is held under. */
  id: string;
  /** Nobody waits for it: the door answered at once (Responses `background: true`). */
  background: boolean;
  turn: RunTurn;
  /** What the door keeps beside the turn and how it shows it: a Responses object, a chat completion, or an MCP task. */
  door: ChatDoor | ResponsesDoor | ToolTaskDoor;
  /**
   * The claimed Idempotency-Key: its answer is committed with the turn, and the run settles the claim
   * (or releases it) when it ends, whoever is still connected by then. A background run's claim is
   * settled by its door at once, with the queued response.
   */
  idempotency?: { key: string; token: string; retainMs: number };
  createdAt: number;
  /** A webhook turn: whoever ends it last (its consumer, or the continuation after an approval) sends the hook's callback. */
  notify?: { kind: "webhook"; hook: string; delivery_id: string; conversation_id: string };
}

export interface ChatDoor {
  kind: "chat";
  stream: boolean;
  includeUsage: boolean;
}

export interface ResponsesDoor {
  kind: "responses";
  /** The response before any output; its id is `resp_<token>`, and its output items' ids derive from the token. */
  shell: ResponseObject;
  token: string;
  stream: boolean;
  /** Whether the conversation is kept (store, or a named or continued conversation). */
  kept: boolean;
}

/**
 * An MCP task (the Tasks extension of MCP 2026-07-28): one `tools/call` run durably in the home of
 * the conversation its tool works in. No model, no turn: the run is the tool call, and its end is
 * the call's result. It takes no lease, so it runs beside the conversation's turns.
 */
export interface ToolTaskDoor {
  kind: "mcp_task";
  tool: string;
  arguments: JsonObject;
  /** What the tool Worker is told (tenant, conversation, its idempotency key minted when the task was made). */
  context: ToolCallContext;
  timeoutMs: number;
  maxOutputChars: number;
}

/** The end of a turn that answered, as every door needs it. */
export interface RunResult {
  completion: ChatCompletion;
  usage: Usage | null;
  steps: number;
  /** Service-binding calls the run made. */
  toolInvocations: number;
  /** The turn parked: these calls wait for a person (the completion says so). */
  approvals?: Approval[];
}

/** A failure as the client is told it: the status and OpenAI-style body `app.onError` would answer with. */
export interface RunFailure {
  status: number;
  body: OpenAIErrorBody;
  headers: Record<string, string>;
}

export type RunEvent =
  /** The run took its conversation and started (a queued run waits for that). */
  | { type: "started" }
  /** A model stream opened: from here the step's text is the client's. */
  | { type: "open"; step: number }
  | { type: "delta"; step: number; delta: StreamDelta }
  /** Server tool calls of a step, about to run. */
  | { type: "tool_calls"; step: number; calls: ToolCall[] }
  /** One server tool call's result, as the model reads it. */
  | { type: "tool_result"; step: number; call: ToolCall; ok: boolean; content: string; duration_ms: number }
  /** The turn parked before calls that wait for a person: their approvals (the run then completes). */
  | { type: "approval_requested"; step: number; approvals: Approval[] }
  | { type: "completed"; result: RunResult }
  | { type: "failed"; failure: RunFailure }
  | { type: "cancelled" }
  /** An MCP task's tool call returned (a tool's own failure is a result too, `isError`). */
  | { type: "tool_completed"; result: CallToolResult }
  /** The conversation had already committed this Idempotency-Key's answer: the JSON record to replay. */
  | { type: "replayed"; record: string };

export type TerminalEvent = Extract<RunEvent, { type: "completed" | "failed" | "cancelled" | "replayed" | "tool_completed" }>;

export function isTerminal(event: RunEvent): event is TerminalEvent {
  return event.type === "completed" || event.type === "failed" || event.type === "cancelled" || event.type === "replayed" || event.type === "tool_completed";
}

/** One event of a run's log: `seq` counts from 1. */
export interface SequencedEvent {
  seq: number;
  event: RunEvent;
}

/** What a door or a poll learns of a run without following it. */
export interface RunState {
  id: string;
  status: RunStatus;
  background: boolean;
  tenant: string;
  conversationId: string;
  door: RunSpec["door"];
  createdAt: number;
  updatedAt: number;
  /** Set once the run has ended. */
  terminal: TerminalEvent | null;
}

export type { LoopCheckpoint };
