// GET /v1/responses/{id}/input_items: the items a response's model call was given (the conversation's
// earlier items, then the request's input), in the Responses input shapes, each with an id, and the
// list page OpenAI answers with.

import type { ChatMessage, ContentPart, JsonObject } from "../types.js";
import { isJsonObject } from "../types.js";
import { textOf } from "./output.js";

export type InputItem = JsonObject & { id: string; type: string };

export function inputItemsOf(messages: readonly ChatMessage[], idFor: (prefix: string, index: number) => string): InputItem[] {
  const items: InputItem[] = [];
  const add = (prefix: string, item: JsonObject & { type: string }) => items.push({ id: idFor(prefix, items.length), ...item });
  for (const message of messages) {
    if (message.role === "tool") {
      add("fco", { type: "function_call_output", call_id: message.tool_call_id, output: textOf(message.content), status: "completed" });
      continue;
    }
    if (message.role === "assistant") {
      const text = textOf(message.content);
      if (text) add("msg", { type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text, annotations: [] }] });
      for (const call of message.tool_calls ?? []) {
        add("fc", { type: "function_call", call_id: call.id, name: call.function.name, arguments: call.function.arguments, status: "completed" });
      }
      continue;
    }
    add("msg", { type: "message", role: message.role, status: "completed", content: inputContent(message.content) });
  }
  return items;
}

export interface ListQuery {
  after?: string;
  before?: string;
  limit: number;
  order: "asc" | "desc";
}

/** One page of items, as OpenAI's list endpoints answer: `after` and `before` are item ids, in the order asked for. */
export function pageOf(
  items: readonly InputItem[],
  query: ListQuery,
): { object: "list"; data: InputItem[]; first_id: string | null; last_id: string | null; has_more: boolean } {
  let ordered = query.order === "asc" ? [...items] : [...items].reverse();
  if (query.after !== undefined) {
    const index = ordered.findIndex((item) => item.id === query.after);
    ordered = index < 0 ? [] : ordered.slice(index + 1);
  }
  if (query.before !== undefined) {
    const index = ordered.findIndex((item) => item.id === query.before);
    ordered = index < 0 ? [] : ordered.slice(0, index);
  }
  const data = ordered.slice(0, query.limit);
  return { object: "list", data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: ordered.length > data.length };
}

function inputContent(content: string | ContentPart[]): JsonObject[] {
  if (typeof content === "string") return [{ type: "input_text", text: content }];
  return content.map((part): JsonObject => {
    if (part.type === "text") return { type: "input_text", text: typeof part.text === "string" ? part.text : "" };
    if (part.type === "image_url" && isJsonObject(part.image_url))
      return { type: "input_image", image_url: part.image_url.url ?? null, detail: part.image_url.detail ?? "auto" };
    return part;
  });
}
