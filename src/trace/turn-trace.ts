// A turn's trace, kept with the turn: one span for the turn, one per model call, one per tool call,
// and the reads before the first call. Named as OpenTelemetry's GenAI conventions name them
// (`invoke_agent`, `chat`, `execute_tool`, `gen_ai.*` attributes), so it maps onto any OTel backend.
// It is built from the loop's hooks only: the loop does not know it is traced.

import { byteLength } from "../lib/bytes.js";
import type { LoopHooks, ModelCallEvent, ToolResultEvent } from "../loop/tool-loop.js";
import type { Usage } from "../protocol/types.js";
import type { TraceContext } from "./context.js";
import { newSpanId, spanIdOf, traceparent } from "./context.js";

export type AttributeValue = string | number | boolean | string[];

export interface TraceSpanEvent {
  name: string;
  /** Epoch milliseconds. */
  time_ms: number;
  attributes: Record<string, AttributeValue>;
}

export interface TraceSpan {
  span_id: string;
  parent_span_id: string | null;
  /** `invoke_agent switchboard`, `chat <model>`, `execute_tool <tool>`, `load_conversation`, `discover_tools`. */
  name: string;
  /** OpenTelemetry span kind: `client` for calls out of the orchestrator, `internal` otherwise. */
  kind: "internal" | "client";
  /** Epoch milliseconds. Workers advance the clock on I/O only, so a duration is time spent waiting. */
  start_ms: number;
  duration_ms: number;
  status: { code: "ok" | "error"; message?: string };
  attributes: Record<string, AttributeValue>;
  events?: TraceSpanEvent[];
}

export interface TurnTrace {
  trace_id: string;
  /** The client's span this turn continues (its `traceparent`), or null. */
  parent_span_id: string | null;
  /** The turn's own span, first; the others in the order they started. */
  spans: TraceSpan[];
}

/** Longest tool-argument text kept in a span: enough to read, never a second copy of a large payload. */
export const MAX_TRACED_ARGUMENT_CHARS = 2_000;

export interface TurnTracer {
  readonly traceId: string;
  /** The turn span's traceparent: what the loop derives each tool call's from. */
  readonly traceparent: string;
  readonly hooks: LoopHooks;
  /** Times `work` as a child span of the turn (a KV read, tool discovery). */
  time<Value>(name: string, work: Promise<Value>): Promise<Value>;
  /** The trace so far, closed at `endMs`, passed through `redact` as a log line is. */
  finish(summary: { endMs: number; steps: number; incomplete: boolean }, redact?: (text: string) => string): TurnTrace;
}

export interface TurnTraceOptions {
  context: TraceContext;
  startedAt: number;
  conversationId: string;
  turnId: string;
  model: string;
  /** Where the model is called (the upstream's host), `server.address` in OTel terms. */
  serverAddress: string | null;
}

export function startTurnTrace(options: TurnTraceOptions): TurnTracer {
  const rootId = newSpanId();
  const spans: TraceSpan[] = [];
  const usage: { input: number; output: number; any: boolean } = { input: 0, output: 0, any: false };
  const child = (span: Omit<TraceSpan, "parent_span_id">): TraceSpan => ({ ...span, parent_span_id: rootId });

  const hooks: LoopHooks = {
    onModelCall: (event) => {
      const span = chatSpan(event, options.serverAddress);
      spans.push(child(span));
      const counted = event.completion?.usage;
      if (counted) addUsage(usage, counted);
    },
    onToolResult: (event) => spans.push(child(toolSpan(event))),
  };

  return {
    traceId: options.context.traceId,
    traceparent: traceparent(options.context, rootId),
    hooks,
    async time(name, work) {
      const start = Date.now();
      const done = (status: TraceSpan["status"]) =>
        spans.push(child({ span_id: newSpanId(), name, kind: "client", start_ms: start, duration_ms: Date.now() - start, status, attributes: {} }));
      try {
        const value = await work;
        done({ code: "ok" });
        return value;
      } catch (error) {
        done({ code: "error", message: errorMessage(error) });
        throw error;
      }
    },
    finish(summary, redact) {
      const root: TraceSpan = {
        span_id: rootId,
        parent_span_id: options.context.parentSpanId,
        name: "invoke_agent switchboard",
        kind: "internal",
        start_ms: options.startedAt,
        duration_ms: summary.endMs - options.startedAt,
        status: summary.incomplete ? { code: "error", message: "The turn ended before the model answered." } : { code: "ok" },
        attributes: {
          "gen_ai.operation.name": "invoke_agent",
          "gen_ai.agent.name": "switchboard",
          "gen_ai.conversation.id": options.conversationId,
          "gen_ai.request.model": options.model,
          ...(usage.any ? { "gen_ai.usage.input_tokens": usage.input, "gen_ai.usage.output_tokens": usage.output } : {}),
          "switchboard.turn.id": options.turnId,
          "switchboard.turn.steps": summary.steps,
        },
      };
      const ordered = [root, ...[...spans].sort((left, right) => left.start_ms - right.start_ms)];
      const trace: TurnTrace = { trace_id: options.context.traceId, parent_span_id: options.context.parentSpanId, spans: ordered };
      // The same redaction as a log line: an upstream or a tool that echoes a secret leaves it out of the trace.
      if (!redact) return trace;
      const text = JSON.stringify(trace);
      const redacted = redact(text);
      // Nearly always nothing to mask: then the trace is kept as it is, without parsing it again.
      return redacted === text ? trace : (JSON.parse(redacted) as TurnTrace);
    },
  };
}

function chatSpan(event: ModelCallEvent, serverAddress: string | null): Omit<TraceSpan, "parent_span_id"> {
  const { completion } = event;
  const finishReasons = (completion?.choices ?? []).map((choice) => choice.finish_reason).filter((reason): reason is string => typeof reason === "string");
  const attributes: Record<string, AttributeValue> = {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": event.model,
    ...(serverAddress ? { "server.address": serverAddress } : {}),
    "switchboard.step": event.step,
    "switchboard.streamed": event.streamed,
    // Every HTTP attempt this call made, over every model it fell back to.
    "switchboard.attempts": 1 + event.retries.length + event.fallbacks.length,
  };
  if (completion) {
    if (typeof completion.model === "string") attributes["gen_ai.response.model"] = completion.model;
    if (typeof completion.id === "string") attributes["gen_ai.response.id"] = completion.id;
    attributes["gen_ai.response.finish_reasons"] = finishReasons;
    if (completion.usage) {
      attributes["gen_ai.usage.input_tokens"] = completion.usage.prompt_tokens;
      attributes["gen_ai.usage.output_tokens"] = completion.usage.completion_tokens;
    }
  }
  if (event.fallbacks.length > 0) attributes["switchboard.fallback_models"] = event.fallbacks.map((fallback) => fallback.to);
  if (event.error !== undefined) attributes["error.type"] = errorType(event.error);
  const events: TraceSpanEvent[] = [
    ...event.retries.map((retry) => ({
      name: "retry",
      time_ms: retry.at,
      attributes: {
        "switchboard.attempt": retry.attempt,
        "switchboard.delay_ms": retry.delayMs,
        ...(retry.status !== null ? { "http.response.status_code": retry.status } : {}),
        "exception.message": retry.message,
      },
    })),
    ...event.fallbacks.map((fallback) => ({
      name: "fallback",
      time_ms: fallback.at,
      attributes: { "switchboard.from_model": fallback.from, "switchboard.to_model": fallback.to, "exception.message": fallback.reason },
    })),
  ].sort((left, right) => left.time_ms - right.time_ms);
  return {
    span_id: newSpanId(),
    name: `chat ${event.model}`,
    kind: "client",
    start_ms: event.startedAt,
    duration_ms: event.durationMs,
    status: event.error === undefined ? { code: "ok" } : { code: "error", message: errorMessage(event.error) },
    attributes,
    ...(events.length > 0 ? { events } : {}),
  };
}

function toolSpan(event: ToolResultEvent): Omit<TraceSpan, "parent_span_id"> {
  const { call, outcome, tool } = event;
  const name = call.call.function.name;
  const argumentsText = call.call.function.arguments;
  const attributes: Record<string, AttributeValue> = {
    "gen_ai.operation.name": "execute_tool",
    "gen_ai.tool.name": name,
    "gen_ai.tool.call.id": call.call.id,
    "gen_ai.tool.type": "function",
    "gen_ai.tool.call.arguments": argumentsText.length > MAX_TRACED_ARGUMENT_CHARS ? `${argumentsText.slice(0, MAX_TRACED_ARGUMENT_CHARS)}…` : argumentsText,
    "switchboard.step": event.step,
    ...toolLocation(tool),
    "switchboard.tool.outcome": outcome.ok ? "ok" : outcome.type,
    "switchboard.tool.result_bytes": byteLength(event.content ?? ""),
  };
  if (!outcome.ok) attributes["error.type"] = outcome.type;
  const end = Date.now();
  return {
    // The span id the tool Worker was sent as its parent, so the tool's own spans hang under this one.
    span_id: spanIdOf(event.traceparent) ?? newSpanId(),
    name: `execute_tool ${name}`,
    kind: tool ? "client" : "internal",
    start_ms: end - event.durationMs,
    duration_ms: event.durationMs,
    status: outcome.ok ? { code: "ok" } : { code: "error", message: outcome.message },
    attributes,
  };
}

/** Where a tool lives: a tool Worker behind a service binding, or an MCP server (a binding or a URL). */
function toolLocation(tool: ToolResultEvent["tool"]): Record<string, AttributeValue> {
  if (!tool) return { "switchboard.tool.location": "none" };
  if (tool.mcp) {
    const host = tool.mcp.url ? hostOf(tool.mcp.url) : null;
    return {
      "switchboard.tool.location": "mcp",
      "switchboard.tool.mcp_server": tool.mcp.server,
      ...(tool.binding ? { "switchboard.tool.binding": tool.binding } : {}),
      ...(host ? { "server.address": host } : {}),
    };
  }
  return { "switchboard.tool.location": "worker", "switchboard.tool.binding": tool.binding };
}

function addUsage(total: { input: number; output: number; any: boolean }, usage: Usage): void {
  total.input += usage.prompt_tokens ?? 0;
  total.output += usage.completion_tokens ?? 0;
  total.any = true;
}

/** The error's code when it has one (`upstream_timeout`), else its class name. */
function errorType(error: unknown): string {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  if (typeof code === "string") return code;
  return error instanceof Error ? error.name : "Error";
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function hostOf(url: string): string | null {
  try {
    return new URL(url).host;
  } catch {
    return null;
  }
}
