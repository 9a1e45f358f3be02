// The one log line a tool call gets, the same on every door: which tool, how long, how it ended.

import type { Logger } from "../log.js";
import type { ToolResultEvent } from "../loop/tool-loop.js";

export function logToolCall(log: Logger, event: ToolResultEvent): void {
  log.info("tool_call", {
    step: event.step,
    tool: event.call.call.function.name,
    tool_call_id: event.call.call.id,
    duration_ms: event.durationMs,
    ok: event.outcome.ok,
    ...(event.outcome.ok ? {} : { error_type: event.outcome.type }),
  });
}
