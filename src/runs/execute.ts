// The engine's one way to run a turn, wherever it is hosted: the conversation's home runs stored
// turns (durably, checkpointed), the request runs a turn that keeps nothing (`store: false`). The
// loop's hooks become the run's events, which every door's view is built from; whatever happens,
// the run ends with exactly one terminal event, never an exception.

import type { TurnProducts } from "../conversations/turns.js";
import { errorBody, isUnexpected } from "../http/error-body.js";
import { logToolCall } from "../http/tool-call-log.js";
import { budgetedModel } from "../keys/budgeted-model.js";
import type { StreamDelta } from "../loop/model-port.js";
import type { LoopCheckpoint, ModelCallEvent } from "../loop/tool-loop.js";
import { toCallToolResult } from "../mcp/server.js";
import type { CompletedTurn } from "../run-turn.js";
import { AlreadyAnsweredError, runTurn } from "../run-turn.js";
import type { Services } from "../services.js";
import type { ServerTool, ToolOutcome } from "../tools/registry.js";
import type { RunEvent, RunFailure, RunSpec, TerminalEvent, ToolTaskDoor } from "./types.js";

export interface RunSink {
  event(event: RunEvent): void;
  /** After every model call and tool call (see LoopCheckpoint): what the run continues from. */
  checkpoint?(checkpoint: LoopCheckpoint): void;
}

export interface ExecuteOptions {
  /** Aborted to cancel the run (or because the client of a turn that keeps nothing went away). */
  signal?: AbortSignal;
  /** Where an interrupted run stopped. */
  resume?: LoopCheckpoint;
  /** What is left of the turn's deadline (a resumed run has used some of it). */
  deadlineMs: number;
  /** What the door keeps beside the turn, committed with it. */
  products?: (completed: CompletedTurn) => TurnProducts;
}

export class RunCancelledError extends Error {
  constructor() {
    super("The run was cancelled.");
    this.name = "RunCancelledError";
  }
}

export async function executeRun(services: Services, spec: RunSpec, sink: RunSink, options: ExecuteOptions): Promise<TerminalEvent> {
  const log = services.log.with({
    tenant: spec.turn.tenant,
    conversation_id: spec.turn.conversationId,
    run_id: spec.id,
    request_id: spec.turn.requestId,
    ...(spec.turn.trace ? { trace_id: spec.turn.trace.traceId } : {}),
  });
  const streamed = streams(spec);
  try {
    const completed = await runTurn(
      withBudget(services, spec),
      {
        ...spec.turn,
        turnId: spec.turn.turnId ?? spec.id,
        leaseToken: spec.id,
        deadlineMs: options.deadlineMs,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.resume ? { resume: options.resume, newConversation: false } : {}),
      },
      {
        // Deltas are asked of the model only for a reader who can see them: a stream, or a background run that may be streamed again.
        ...(streamed
          ? {
              stream: {
                onOpen: (step: number) => sink.event({ type: "open", step }),
                onDelta: (delta: StreamDelta, step: number) => sink.event({ type: "delta", step, delta }),
              },
            }
          : {}),
        hooks: {
          // Unstreamed, a step's text arrives whole: one delta, so every view is built the same way.
          ...(streamed ? {} : { onModelCall: (event: ModelCallEvent) => wholeStep(event, sink) }),
          onToolCalls: (step, calls) => sink.event({ type: "tool_calls", step, calls: calls.map(({ call }) => call) }),
          onToolResult: (event) => {
            logToolCall(log, event);
            sink.event({
              type: "tool_result",
              step: event.step,
              call: event.call.call,
              ok: event.outcome.ok,
              content: event.content ?? "",
              duration_ms: event.durationMs,
            });
          },
          ...(sink.checkpoint ? { onCheckpoint: (checkpoint) => sink.checkpoint?.(checkpoint) } : {}),
        },
        ...(options.products ? { products: options.products } : {}),
        origin: spec,
        door: spec.notify ? "webhook" : spec.door.kind,
        onParked: (parked) => sink.event({ type: "approval_requested", step: parked.step, approvals: parked.approvals }),
      },
    );
    return completedEvent(completed, services);
  } catch (error) {
    if (error instanceof AlreadyAnsweredError) return { type: "replayed", record: error.record };
    if (options.signal?.aborted && options.signal.reason instanceof RunCancelledError) return { type: "cancelled" };
    // Nobody may be connected to hear it: a failure that is ours is logged here, with what it was.
    if (isUnexpected(error))
      log.error("run_failed", { message: error instanceof Error ? error.message : String(error), stack: error instanceof Error ? error.stack : null });
    return { type: "failed", failure: failureOf(error, services.log.redact) };
  }
}

/** How a run whose turn answered ends (also committed with the turn: see RunHost.noteCommitted). */
export function completedEvent(completed: CompletedTurn, services: Pick<Services, "budget">): TerminalEvent {
  return {
    type: "completed",
    result: {
      completion: completed.completion,
      usage: completed.usage,
      steps: completed.steps,
      toolInvocations: services.budget.spent,
      ...(completed.parked ? { approvals: completed.parked.approvals } : {}),
    },
  };
}

/** A metered turn (a managed key's, a tenant's with limits) calls its model through its meters (src/keys/budgeted-model.ts). */
function withBudget(services: Services, spec: RunSpec): Services {
  const meters = spec.turn.meters ?? [];
  if (meters.length === 0) return services;
  const { config } = services;
  const budgets = meters.map((meter) => services.keys.budget(meter.name, meter.tenant));
  const model = budgetedModel(services.model, budgets, {
    prices: config.prices.table,
    allowUnpriced: config.prices.allowUnpriced,
    fallbackModels: config.dmxapi.fallbackModels,
    maxOutputTokens: config.parameters.maxOutputTokens,
    // A reservation nobody settles (its object died) is charged once the call could no longer be running: after the turn's deadline.
    holdMs: config.limits.turnDeadlineMs + 60_000,
  });
  return { ...services, model };
}

function wholeStep(event: ModelCallEvent, sink: RunSink): void {
  const message = event.completion?.choices[0]?.message;
  if (!message) return;
  const delta: StreamDelta = {};
  if (typeof message.reasoning_content === "string" && message.reasoning_content) delta.reasoning_content = message.reasoning_content;
  if (typeof message.content === "string" && message.content) delta.content = message.content;
  if (typeof message.refusal === "string" && message.refusal) delta.refusal = message.refusal;
  if (Object.keys(delta).length > 0) sink.event({ type: "delta", step: event.step, delta });
}

export function streams(spec: RunSpec): boolean {
  return spec.background || (spec.door.kind !== "mcp_task" && spec.door.stream);
}

/** An MCP task: its one tool call, run the way `tools/call` runs it, ending with the call's result. */
export async function executeToolTask(services: Services, spec: RunSpec, door: ToolTaskDoor, signal: AbortSignal): Promise<TerminalEvent> {
  try {
    const tool = (await services.registry.list()).find((candidate) => candidate.name === door.tool);
    const outcome: ToolOutcome = !tool
      ? { ok: false, type: "unknown_tool", message: `There is no tool named "${door.tool}".` }
      : await invokeChecked(services, tool, door, signal);
    if (signal.aborted && signal.reason instanceof RunCancelledError) return { type: "cancelled" };
    services.log.info("mcp_task_ended", { task_id: spec.id, tool: door.tool, ok: outcome.ok });
    return { type: "tool_completed", result: toCallToolResult(outcome, door.maxOutputChars) };
  } catch (error) {
    if (signal.aborted && signal.reason instanceof RunCancelledError) return { type: "cancelled" };
    return { type: "failed", failure: failureOf(error, services.log.redact) };
  }
}

function invokeChecked(services: Services, tool: ServerTool, door: ToolTaskDoor, signal: AbortSignal): Promise<ToolOutcome> {
  const problems = tool.validate(door.arguments);
  if (problems.length > 0) {
    return Promise.resolve({
      ok: false,
      type: "invalid_arguments",
      message: `Invalid arguments for ${tool.name}: ${problems.join("; ")}. Fix them and call again.`,
    });
  }
  return services.registry.invoke(tool, door.arguments, door.context, { timeoutMs: door.timeoutMs, signal });
}

/** A failure as the client is told it (redacted), and as it crosses the object's boundary. */
export function failureOf(error: unknown, redact: (text: string) => string): RunFailure {
  const mapped = errorBody(error, redact);
  return { status: mapped.status, body: mapped.body, headers: mapped.headers };
}
