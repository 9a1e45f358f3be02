// Turns what an OpenAI-compatible upstream actually sends into what the protocol promises, without
// dropping anything the upstream needs to see again. Each rule answers one quirk from the wire notes.

import { randomToken } from "../lib/ids.js";
import type { AssistantMessage, JsonObject, ToolCall, Usage } from "./types.js";
import { isJsonObject } from "./types.js";

export type ParsedArguments = { ok: true; value: JsonObject } | { ok: false; error: string };

export interface NormalizedToolCall {
  /** The call as it is echoed back upstream and stored: unique id, string `arguments` holding an object. */
  call: ToolCall;
  arguments: ParsedArguments;
}

/** Gives out call ids that stay unique for a whole conversation, keeping the upstream's where it can. */
export class ToolCallIds {
  private readonly seen = new Set<string>();

  constructor(existing: Iterable<string> = []) {
    for (const id of existing) this.seen.add(id);
  }

  /** A new id with this prefix and `chars` random characters that no call of the conversation has. */
  fresh(prefix: string, chars = 24): string {
    let id: string;
    do id = `${prefix}${randomToken(chars)}`;
    while (this.seen.has(id));
    return id;
  }

  claim(candidate: unknown): string {
    const id = typeof candidate === "number" && Number.isFinite(candidate) ? String(candidate) : candidate;
    if (typeof id === "string" && id.length > 0 && !this.seen.has(id)) {
      this.seen.add(id);
      return id;
    }
    let fresh: string;
    do fresh = `call_${randomToken(24)}`;
    while (this.seen.has(fresh));
    this.seen.add(fresh);
    return fresh;
  }
}

/**
 * Arguments arrive as a JSON string, `""` (a tool without parameters), an object instead of a string,
 * an array, or JSON cut short by `finish_reason: "length"`. Only an object is a valid call.
 */
export function parseArguments(raw: unknown): ParsedArguments {
  if (raw === undefined || raw === null || raw === "") return { ok: true, value: {} };
  if (isJsonObject(raw)) return { ok: true, value: raw };
  if (typeof raw !== "string") {
    return { ok: false, error: `arguments must be a JSON object, got ${Array.isArray(raw) ? "an array" : typeof raw}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { ok: false, error: `arguments are not valid JSON: ${truncate(raw, 200)}` };
  }
  if (!isJsonObject(parsed)) {
    return { ok: false, error: `arguments must be a JSON object, got ${Array.isArray(parsed) ? "an array" : JSON.stringify(parsed)}` };
  }
  return { ok: true, value: parsed };
}

export function normalizeToolCall(raw: unknown, ids: ToolCallIds): NormalizedToolCall {
  const source = isJsonObject(raw) ? raw : {};
  const fn = isJsonObject(source.function) ? source.function : {};
  const parsed = parseArguments(fn.arguments);
  // Echo back only object arguments: some upstreams (Claude behind a gateway) reject anything else,
  // so a malformed call is echoed as `{}` and the model reads the real problem in the tool message.
  const echoedArguments = parsed.ok && typeof fn.arguments === "string" && fn.arguments !== "" ? fn.arguments : JSON.stringify(parsed.ok ? parsed.value : {});
  return {
    call: {
      ...source,
      id: ids.claim(source.id),
      type: "function",
      function: { ...fn, name: typeof fn.name === "string" ? fn.name : "", arguments: echoedArguments },
    },
    arguments: parsed,
  };
}

/** Returns the assistant message with normalized tool calls, and the calls with their parsed arguments. */
export function normalizeAssistantMessage(raw: unknown, ids: ToolCallIds): { message: AssistantMessage; toolCalls: NormalizedToolCall[] } {
  const source = isJsonObject(raw) ? raw : {};
  const rawCalls = Array.isArray(source.tool_calls) ? source.tool_calls : [];
  const toolCalls = rawCalls.map((call) => normalizeToolCall(call, ids));
  const { tool_calls: _calls, ...rest } = source;
  let content = source.content;
  if (content === undefined || (content === "" && toolCalls.length > 0)) content = null;
  const message: AssistantMessage = {
    ...rest,
    role: "assistant",
    content: typeof content === "string" || Array.isArray(content) ? (content as AssistantMessage["content"]) : null,
  };
  if (toolCalls.length > 0) message.tool_calls = toolCalls.map((entry) => entry.call);
  return { message, toolCalls };
}

/** Adds two usage objects field by field, nested details included, so a turn reports its whole cost. */
export function addUsage(total: Usage | null, next: Usage | null | undefined): Usage | null {
  if (!next) return total;
  if (!total) return structuredClone(next);
  return sumNumbers(total, next) as Usage;
}

function sumNumbers(left: JsonObject, right: JsonObject): JsonObject {
  const result: JsonObject = { ...left };
  for (const [key, value] of Object.entries(right)) {
    const current = result[key];
    if (typeof value === "number") result[key] = (typeof current === "number" ? current : 0) + value;
    else if (isJsonObject(value)) result[key] = sumNumbers(isJsonObject(current) ? current : {}, value);
    else if (!(key in result)) result[key] = value;
  }
  return result;
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
