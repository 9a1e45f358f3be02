// The built-in offline model: a stand-in for DMXAPI that speaks the same wire protocol, so a fresh
// clone drives the whole tool loop without a key. It is deterministic and says what it is: it picks
// a tool from the user's words, and answers from the tool results it is given. It is plugged in as
// the DMXAPI client's `fetch`, so everything between the loop and the wire runs as in production.

import { OFFLINE_MODEL_NAME } from "../config.js";
import { completionToSse } from "../protocol/completion-chunks.js";
import type { ChatCompletion, ChatMessage, FunctionToolDefinition, JsonObject, ToolCall } from "../protocol/types.js";
import { isJsonObject } from "../protocol/types.js";

const PREFIX = "[offline model]";
const CJK = /[\u3400-\u9fff]/;

interface ChosenCall {
  name: string;
  arguments: JsonObject;
}

export async function offlineModelFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  if (request.method !== "POST" || !new URL(request.url).pathname.endsWith("/chat/completions")) {
    return Response.json({ error: { message: "Not found", type: "invalid_request_error", param: null, code: null } }, { status: 404 });
  }
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return Response.json({ error: { message: "Body is not JSON", type: "invalid_request_error", param: null, code: null } }, { status: 400 });
  }
  const messages = isJsonObject(body) && Array.isArray(body.messages) ? (body.messages as ChatMessage[]) : [];
  const tools = isJsonObject(body) && Array.isArray(body.tools) ? (body.tools as FunctionToolDefinition[]) : [];
  const completion = respond(messages, tools);
  if (isJsonObject(body) && body.stream === true)
    return streamCompletion(completion, isJsonObject(body.stream_options) && body.stream_options.include_usage === true);
  return Response.json(completion);
}

export function respond(messages: ChatMessage[], tools: FunctionToolDefinition[]): ChatCompletion {
  const last = messages[messages.length - 1];
  const userText = lastUserText(messages);
  const chinese = CJK.test(userText);
  let content: string | null = null;
  let toolCalls: ToolCall[] = [];

  if (last?.role === "tool") {
    content = `${PREFIX} ${describeResults(messages, chinese)}`;
  } else {
    const chosen = chooseTool(userText, new Set(tools.map((tool) => tool.function.name)));
    if (chosen) {
      toolCalls = [
        {
          id: `call_offline_${stableId(messages.length, chosen.name)}`,
          type: "function",
          function: { name: chosen.name, arguments: JSON.stringify(chosen.arguments) },
        },
      ];
    } else {
      const names = tools.map((tool) => tool.function.name);
      content = chinese
        ? `${PREFIX} 我是 Switchboard 的内置离线模型，只能按关键词调用工具（${names.join("、") || "无可用工具"}）。设置 DMXAPI_API_KEY 即可使用真实模型。`
        : `${PREFIX} I am Switchboard's built-in offline model: I only pick tools by keyword (${names.join(", ") || "no tools available"}). Set DMXAPI_API_KEY to talk to a real model.`;
    }
  }

  const promptTokens = Math.ceil(JSON.stringify(messages).length / 4);
  const completionTokens = Math.ceil((content ?? JSON.stringify(toolCalls)).length / 4);
  return {
    id: `chatcmpl-offline-${stableId(messages.length, userText)}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: OFFLINE_MODEL_NAME,
    choices: [
      {
        index: 0,
        message: toolCalls.length > 0 ? { role: "assistant", content: null, tool_calls: toolCalls } : { role: "assistant", content },
        finish_reason: toolCalls.length > 0 ? "tool_calls" : "stop",
      },
    ],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  };
}

function lastUserText(messages: ChatMessage[]): string {
  for (let index = messages.length - 1; index >= 0; index--) {
    const message = messages[index];
    if (message?.role !== "user") continue;
    if (typeof message.content === "string") return message.content;
    return message.content.map((part) => (typeof part.text === "string" ? part.text : "")).join(" ");
  }
  return "";
}

const CITY_TIME_ZONES: Record<string, string> = {
  tokyo: "Asia/Tokyo",
  东京: "Asia/Tokyo",
  shanghai: "Asia/Shanghai",
  上海: "Asia/Shanghai",
  beijing: "Asia/Shanghai",
  北京: "Asia/Shanghai",
  london: "Europe/London",
  伦敦: "Europe/London",
  paris: "Europe/Paris",
  巴黎: "Europe/Paris",
  berlin: "Europe/Berlin",
  "new york": "America/New_York",
  纽约: "America/New_York",
  "los angeles": "America/Los_Angeles",
  sydney: "Australia/Sydney",
  singapore: "Asia/Singapore",
  "hong kong": "Asia/Hong_Kong",
  香港: "Asia/Hong_Kong",
};

/** Picks at most one tool, by keyword, among the tools the request offers. */
export function chooseTool(text: string, available: Set<string>): ChosenCall | null {
  const lower = text.toLowerCase();
  // Any tool, by name, with JSON arguments: "call demo__add {"a": 2, "b": 3}" (how MCP servers' tools are tried offline).
  const named = /\bcall\s+([A-Za-z0-9_-]{1,64})\s*(\{[\s\S]*\})?\s*$/i.exec(text.trim());
  if (named?.[1] && available.has(named[1])) {
    const args = named[2] ? parseObject(named[2]) : {};
    if (args) return { name: named[1], arguments: args };
  }
  if (available.has("notes")) {
    // Asking what was remembered is a recall, even though it says "remember".
    if (/\b(?:recall|my notes|what did i)\b|笔记|记过什么/i.test(text)) return { name: "notes", arguments: { action: "recall" } };
    const save = /(?:remember|note that|记住|记一下)[:：,，\s]*(.+)/i.exec(text);
    const note = save?.[1]?.trim();
    if (note && /[\p{L}\p{N}]/u.test(note)) return { name: "notes", arguments: { action: "save", text: note } };
  }
  if (available.has("get_current_weather") && /weather|temperature|forecast|天气|几度|气温|温度/i.test(text)) {
    return { name: "get_current_weather", arguments: { location: extractPlace(text) } };
  }
  if (available.has("get_current_time") && /\btime\b|clock|几点|时间/i.test(text)) {
    const iana = /\b[A-Z][A-Za-z_]+\/[A-Za-z_]+(?:\/[A-Za-z_]+)?\b/.exec(text)?.[0];
    const city = Object.keys(CITY_TIME_ZONES).find((name) => lower.includes(name));
    return { name: "get_current_time", arguments: { timezone: iana ?? (city ? CITY_TIME_ZONES[city] : "UTC") } };
  }
  if (available.has("calculate")) {
    const expression = /(?:calculate|compute|what is|计算|算一下)?\s*([-+*/^%().\d\s×÷]*\d[-+*/^%().\d\s×÷]*[-+*/^%×÷][-+*/^%().\d\s×÷]*\d\)*)/i
      .exec(text)?.[1]
      ?.trim();
    if (expression) return { name: "calculate", arguments: { expression } };
  }
  return null;
}

function parseObject(text: string): JsonObject | null {
  try {
    const value: unknown = JSON.parse(text);
    return isJsonObject(value) ? value : null;
  } catch {
    return null;
  }
}

function extractPlace(text: string): string {
  const english = /\b(?:in|at|for)\s+([^?？!！.。]+)/i.exec(text)?.[1];
  if (english) return english.replace(/\s+(?:today|now|right now|tomorrow)\s*$/i, "").trim();
  const chinese = /^(?:请问|请告诉我)?\s*([^，,？?。！!\s]+?)(?:今天|现在|明天|的天气|天气|几度|气温|温度)/.exec(text)?.[1];
  return chinese?.trim() || text.trim().slice(0, 60);
}

function describeResults(messages: ChatMessage[], chinese: boolean): string {
  const lines: string[] = [];
  const calls = new Map<string, string>();
  for (const message of messages) {
    if (message.role === "assistant") for (const call of message.tool_calls ?? []) calls.set(call.id, call.function.name);
  }
  for (let index = messages.length - 1; index >= 0; index--) {
    const message = messages[index];
    if (message?.role !== "tool") break;
    const content = typeof message.content === "string" ? message.content : JSON.stringify(message.content);
    lines.unshift(describeResult(calls.get(message.tool_call_id) ?? "tool", content, chinese));
  }
  return lines.join(" ");
}

function describeResult(name: string, content: string, chinese: boolean): string {
  let value: unknown = content;
  try {
    value = JSON.parse(content);
  } catch {
    // plain text result
  }
  if (isJsonObject(value) && isJsonObject(value.error)) {
    const message = String(value.error.message ?? "unknown error");
    return chinese ? `工具 ${name} 出错：${message}` : `The ${name} tool failed: ${message}`;
  }
  if (isJsonObject(value) && typeof value.temperature === "number") {
    const unit = value.unit === "fahrenheit" ? "°F" : "°C";
    const place = String(value.location ?? "");
    const conditions = typeof value.conditions === "string" ? value.conditions : "";
    return chinese
      ? `${place}当前气温 ${value.temperature}${unit}${conditions ? `，${conditions}` : ""}（数据来自 ${String(value.source ?? name)}）。`
      : `It is ${value.temperature}${unit} in ${place}${conditions ? `, ${conditions}` : ""} (from ${String(value.source ?? name)}).`;
  }
  if (isJsonObject(value) && typeof value.iso === "string" && typeof value.timezone === "string") {
    return chinese ? `${value.timezone} 现在是 ${value.iso}。` : `In ${value.timezone} it is now ${value.iso}.`;
  }
  if (isJsonObject(value) && "result_text" in value) {
    return `${String(value.expression ?? "")} = ${String(value.result_text)}`;
  }
  if (isJsonObject(value) && Array.isArray(value.notes)) {
    const texts = value.notes.map((note) => (isJsonObject(note) ? String(note.text) : "")).filter(Boolean);
    if (texts.length === 0) return chinese ? "还没有笔记。" : "There are no notes yet.";
    return (chinese ? "笔记：" : "Your notes: ") + texts.join("; ");
  }
  if (isJsonObject(value) && typeof value.status === "string" && typeof value.text === "string") {
    return chinese ? `已记下：${value.text}` : `Saved: ${value.text}`;
  }
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return chinese ? `${name} 返回：${text.slice(0, 500)}` : `${name} returned: ${text.slice(0, 500)}`;
}

function stableId(seed: number, text: string): string {
  let hash = 2166136261;
  for (const character of `${seed}:${text}`) hash = Math.imul(hash ^ character.codePointAt(0)!, 16777619) >>> 0;
  return hash.toString(36).padStart(7, "0");
}

/** The same completion as the SSE chunks an OpenAI-compatible upstream would stream. */
function streamCompletion(completion: ChatCompletion, includeUsage: boolean): Response {
  return new Response(completionToSse(completion, { includeUsage, pieceSize: 24 }), { headers: { "Content-Type": "text/event-stream" } });
}
