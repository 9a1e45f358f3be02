// W3C Trace Context (`traceparent: 00-<trace id>-<parent span id>-<flags>`): a client's trace is
// continued, and every tool call is sent a traceparent naming its own span, so one trace id follows
// a turn from the client through the orchestrator into every tool Worker.

import { randomHex } from "../lib/ids.js";

export interface TraceContext {
  traceId: string;
  /** The caller's span, when a valid traceparent came with the request. */
  parentSpanId: string | null;
  flags: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ALL_ZERO = /^0+$/;

/** The header's trace continued, or a fresh trace when it is absent or malformed (as the spec says to do). */
export function continueTrace(header: string | null | undefined): TraceContext {
  const match = TRACEPARENT.exec(header?.trim().toLowerCase() ?? "");
  const [, version, traceId, parentSpanId, flags, rest] = match ?? [];
  // Version ff is forbidden; version 00 has nothing after the flags. Later versions are read as 00.
  const valid = traceId && parentSpanId && flags && version !== "ff" && !(version === "00" && rest) && !ALL_ZERO.test(traceId) && !ALL_ZERO.test(parentSpanId);
  if (!valid) return { traceId: newTraceId(), parentSpanId: null, flags: "01" };
  return { traceId, parentSpanId, flags };
}

export function newTraceId(): string {
  return randomHex(16);
}

export function newSpanId(): string {
  return randomHex(8);
}

export function traceparent(context: Pick<TraceContext, "traceId" | "flags">, spanId: string): string {
  return `00-${context.traceId}-${spanId}-${context.flags}`;
}

/** The span id a traceparent names, or null when it is not one. */
export function spanIdOf(header: string | undefined): string | null {
  return TRACEPARENT.exec(header ?? "")?.[3] ?? null;
}

/** A traceparent for a new span under the one `parent` names (same trace, same flags). */
export function childOf(parent: string): string | undefined {
  const match = TRACEPARENT.exec(parent);
  if (!match?.[2] || !match[4]) return undefined;
  return traceparent({ traceId: match[2], flags: match[4] }, newSpanId());
}
