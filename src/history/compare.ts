// When is a message a client sent "the same" as one Switchboard stored? Agent frameworks resend the
// history in their own words: content as a string or as text parts, `null` or `""` beside tool
// calls, arguments re-serialised with other spacing or key order, `developer` for `system`, extra
// fields of their own. Two messages are the same when role, text, tool calls (id, name, arguments
// as JSON) and the answered call id agree; everything else is presentation.

import type { ChatMessage, ContentPart } from "../protocol/types.js";

export function sameMessage(left: ChatMessage, right: ChatMessage): boolean {
  return fingerprint(left) === fingerprint(right);
}

function fingerprint(message: ChatMessage): string {
  const role = message.role === "developer" ? "system" : message.role;
  const parts: unknown[] = [role, textOf(message.content)];
  if (message.role === "assistant") {
    parts.push((message.tool_calls ?? []).map((call) => [call.id, call.function.name, canonicalJson(call.function.arguments)]));
  }
  if (message.role === "tool") parts.push(message.tool_call_id);
  return JSON.stringify(parts);
}

function textOf(content: string | ContentPart[] | null | undefined): string {
  if (typeof content === "string") return content.trim();
  if (!Array.isArray(content)) return "";
  return content
    .map((part) => (part.type === "text" && typeof part.text === "string" ? part.text : stableStringify(part)))
    .join("")
    .trim();
}

function canonicalJson(text: string): string {
  try {
    return stableStringify(JSON.parse(text));
  } catch {
    return text.trim();
  }
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value)
      .filter(([, entry]) => entry !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, entry]) => `${JSON.stringify(key)}:${stableStringify(entry)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
