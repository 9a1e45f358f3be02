// Approvals as every part of Switchboard sees them: a call the model asked for that waits for a
// person, the decision that person made, and the parked step that waits for all of a step's
// decisions. Plain data: it crosses the conversation home's RPC boundary and is stored as JSON.

import type { AssistantMessage, ChatCompletion, ToolCall, ToolMessage, Usage } from "../protocol/types.js";
import type { RunSpec } from "../runs/types.js";

export type ApprovalStatus = "pending" | "approved" | "denied" | "expired";

/** A person's answer to one approval. */
export interface Decision {
  approve: boolean;
  reason?: string;
}

/** What the loop is told of a decided call: the arguments that were approved, so nothing else runs. */
export interface CallDecision extends Decision {
  /** The approval's status: `expired` is a denial nobody made. */
  status: Exclude<ApprovalStatus, "pending">;
  arguments: string;
}

/** One call that waits for a person, as the API shows it (`GET /v1/approvals/{id}`). */
export interface Approval {
  id: string;
  object: "approval";
  /** `turn`: a call of a model's turn, which continues once decided. `mcp_call`: an MCP client's tools/call, run when the client calls again. */
  kind: "turn" | "mcp_call";
  status: ApprovalStatus;
  conversation_id: string;
  /** The run (turn) that asked for it. */
  turn_id: string;
  tool_call_id: string;
  /** The server tool's name as the model called it. */
  tool: string;
  /** `switchboard` for a tool Worker, the configured name for an MCP server's tool. */
  server_label: string;
  /** The tool's name on its server (an MCP server's own name for it). */
  name: string;
  /** The exact arguments, as the model wrote them: what runs if it is approved. */
  arguments: string;
  arguments_sha256: string;
  /** Whose turn asked: its tenant, the request that started it, and the door it came through. */
  requested_by: { tenant: string; request_id: string; door: string };
  created_at: number;
  expires_at: number;
  decided_at: number | null;
  reason: string | null;
  /** The run that continues the turn once every call of its step is decided. */
  continuation: { run_id: string; response_id: string | null } | null;
  /** An `mcp_call` approval's decision was used by the call it allowed (or refused): a later call asks again. */
  used_at?: number | null;
}

/** A call of a parked step, before the home gives it an id and a hash. */
export interface AwaitedCall {
  call: ToolCall;
  server_label: string;
  name: string;
}

/**
 * A turn stopped before calls that wait for a person: the step's model answer, the results of its
 * calls that ran, and the calls that wait. The turn's earlier steps are committed; this is what the
 * turn continues from once every call is decided.
 */
export interface ParkedStep {
  /** The turn that parked (its tool calls' idempotency keys derive from it, in every continuation). */
  turn_id: string;
  step: number;
  completion: ChatCompletion;
  assistant: AssistantMessage;
  results: ToolMessage[];
  usage: Usage | null;
  approvals: Approval[];
  /** The run that parked: a continuation nobody else starts (a decision through the API, an expiry) is made from it. */
  origin: RunSpec;
}

/** An approval as clients read it: times in Unix seconds, as OpenAI's objects give them. */
export function approvalView(approval: Approval): Approval {
  const seconds = (ms: number) => Math.floor(ms / 1000);
  return {
    ...approval,
    created_at: seconds(approval.created_at),
    expires_at: seconds(approval.expires_at),
    decided_at: approval.decided_at === null ? null : seconds(approval.decided_at),
  };
}
