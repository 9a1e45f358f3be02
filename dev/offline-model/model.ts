// The offline model's mind: given the request a DMXAPI model would get (messages, tools, tool_choice),
// it either calls tools or answers. It knows no tool by name: it reads each offered tool's name,
// description and JSON Schema, picks the one the user's words fit best, fills the arguments from the
// words (one call per place when several are named), and answers from whatever the tools returned.

import type { ChatCompletion, ChatMessage, FunctionToolDefinition, JsonObject, ToolCall } from "../../src/protocol/types.js";
import { isJsonObject } from "../../src/protocol/types.js";
import { conceptsOf, contentWords, englishPlace, expressionIn, isChinese, payloadOf, placesIn, timeZoneOf, timeZonesIn } from "./language.js";

export const PREFIX = "[offline model]";
export const DEFAULT_MODEL_NAME = "switchboard-offline";
const MIN_SCORE = 2;

export interface OfflineRequest {
  model?: string;
  messages: ChatMessage[];
  tools: FunctionToolDefinition[];
  tool_choice?: unknown;
}

export interface PlannedCall {
  name: string;
  arguments: JsonObject;
}

type Kind = "enum" | "zone" | "place" | "expression" | "text" | "number" | "other";

interface Parameter {
  name: string;
  kind: Kind;
  required: boolean;
  description: string;
  values: string[];
}

interface Fill {
  arguments: JsonObject;
  missing: string[];
  /** How many arguments came from a specific sign in the words (a place, an expression, a named value). */
  signals: number;
}

export function respond(request: OfflineRequest): ChatCompletion {
  const { messages, tools } = request;
  const userText = lastUserText(messages);
  const last = messages.at(-1);
  let content: string | null = null;
  let calls: PlannedCall[] = [];
  if (last?.role === "tool") {
    content = `${PREFIX} ${answerFromResults(messages, userText)}`;
  } else {
    calls = planCalls(messages, tools, request.tool_choice);
    if (calls.length === 0) content = `${PREFIX} ${introduction(tools, isChinese(userText))}`;
  }
  const toolCalls: ToolCall[] = calls.map((call, index) => ({
    id: `call_offline_${stableId(messages.length, `${index}:${call.name}:${JSON.stringify(call.arguments)}`)}`,
    type: "function",
    function: { name: call.name, arguments: JSON.stringify(call.arguments) },
  }));
  const promptTokens = Math.ceil(JSON.stringify(messages).length / 4);
  const completionTokens = Math.ceil((content ?? JSON.stringify(toolCalls)).length / 4);
  return {
    id: `chatcmpl-offline-${stableId(messages.length, userText)}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: typeof request.model === "string" && request.model !== "" ? request.model : DEFAULT_MODEL_NAME,
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

// ---------------------------------------------------------------------------------------------
// Choosing tools

/** The calls the user's last words ask for among `tools` (several when several places are named), or none. */
export function planCalls(messages: ChatMessage[], tools: FunctionToolDefinition[], toolChoice: unknown = "auto"): PlannedCall[] {
  if (toolChoice === "none" || tools.length === 0) return [];
  const text = lastUserText(messages);
  const concepts = conceptsOf(text);
  const enumValues = new Set(tools.flatMap((tool) => parametersOf(tool).flatMap((parameter) => parameter.values.map((value) => value.toLowerCase()))));
  const zones = timeZonesIn(text);
  const rest = zones.reduce((remaining, zone) => remaining.replace(zone, " "), text);
  const places = [...zones, ...placesIn(rest).filter((place) => !enumValues.has(place.toLowerCase()))];
  const history = previousCalls(messages);
  const lastUsed = history.at(-1)?.name;

  const named = isJsonObject(toolChoice) && isJsonObject(toolChoice.function) ? String(toolChoice.function.name) : null;
  if (named) {
    const tool = tools.find((candidate) => candidate.function.name === named);
    return tool ? callsFor(tool, text, concepts, places, history, true) : [];
  }

  let best: { tool: FunctionToolDefinition; score: number } | null = null;
  for (const tool of tools) {
    const fill = fillArguments(tool, text, concepts, places[0] ?? null, history, false);
    if (fill.missing.length > 0) continue;
    const score = relevance(tool, concepts) + 2 * fill.signals + (tool.function.name === lastUsed && fill.signals > 0 ? 1 : 0);
    if (!best || score > best.score) best = { tool, score };
  }
  // One shared word of a description is a coincidence ("saving" in "daylight saving time"); two signs are a choice.
  if (best && (best.score >= MIN_SCORE || toolChoice === "required")) return callsFor(best.tool, text, concepts, places, history, false);
  if (toolChoice === "required" && tools[0]) return callsFor(tools[0], text, concepts, places, history, true);
  return [];
}

function callsFor(tool: FunctionToolDefinition, text: string, concepts: Set<string>, places: string[], history: PlannedCall[], forced: boolean): PlannedCall[] {
  const takesPlace = parametersOf(tool).some((parameter) => parameter.kind === "place" || parameter.kind === "zone");
  const each = takesPlace && places.length > 1 ? places : [places[0] ?? null];
  const calls = each.map((place) => ({ name: tool.function.name, arguments: fillArguments(tool, text, concepts, place, history, forced).arguments }));
  // Two places the tool cannot tell apart (no zone for either) are one call.
  return calls.filter((call, index) => calls.findIndex((other) => JSON.stringify(other.arguments) === JSON.stringify(call.arguments)) === index);
}

/** How well the user's concepts match the words of a tool's name (most), enum values, description and parameters. */
function relevance(tool: FunctionToolDefinition, concepts: Set<string>): number {
  const weights = new Map<string, number>();
  const add = (text: string, weight: number) => {
    for (const word of contentWords(text)) weights.set(word, Math.max(weights.get(word) ?? 0, weight));
  };
  add(tool.function.description ?? "", 1);
  for (const parameter of parametersOf(tool)) {
    add(`${parameter.name} ${parameter.description}`, 1);
    add(parameter.values.join(" "), 2);
  }
  add(tool.function.name, 3);
  let score = 0;
  for (const concept of concepts) score += weights.get(concept) ?? 0;
  return score;
}

function parametersOf(tool: FunctionToolDefinition): Parameter[] {
  const schema = tool.function.parameters;
  const properties = isJsonObject(schema) && isJsonObject(schema.properties) ? schema.properties : {};
  const required = new Set(isJsonObject(schema) && Array.isArray(schema.required) ? schema.required.map(String) : []);
  return Object.entries(properties).map(([name, property]) => {
    const spec = isJsonObject(property) ? property : {};
    const description = typeof spec.description === "string" ? spec.description : "";
    const values = Array.isArray(spec.enum) ? spec.enum.filter((value): value is string => typeof value === "string") : [];
    return { name, kind: kindOf(name, description, spec, values), required: required.has(name), description, values };
  });
}

function kindOf(name: string, description: string, spec: JsonObject, values: string[]): Kind {
  if (values.length > 0) return "enum";
  const words = `${name.replaceAll("_", " ")} ${description}`.toLowerCase();
  const type = spec.type;
  if (type === "number" || type === "integer") return "number";
  if (type !== undefined && type !== "string") return "other";
  if (/time ?zone|\biana\b/.test(words)) return "zone";
  if (/\b(?:location|place|city|address|town|where)\b|地点|城市|位置/.test(words)) return "place";
  if (/\b(?:expression|formula|equation|arithmetic|math)\b/.test(words)) return "expression";
  return "text";
}

function fillArguments(tool: FunctionToolDefinition, text: string, concepts: Set<string>, place: string | null, history: PlannedCall[], forced: boolean): Fill {
  const fill: Fill = { arguments: {}, missing: [], signals: 0 };
  const previous = [...history].reverse().find((call) => call.name === tool.function.name)?.arguments ?? {};
  const lower = text.toLowerCase();
  let zoneFilled = false;
  const parameters = parametersOf(tool);
  // Enums first: a chosen value ("save") decides which free-text parameters it needs.
  const ordered = [...parameters.filter((parameter) => parameter.kind === "enum"), ...parameters.filter((parameter) => parameter.kind !== "enum")];
  for (const parameter of ordered) {
    let value: unknown;
    let signal = true;
    switch (parameter.kind) {
      case "enum":
        value = parameter.values.find((option) => concepts.has(option.toLowerCase()) || lower.includes(option.toLowerCase()));
        break;
      case "zone":
        if (!zoneFilled && place) value = timeZoneOf(place) ?? undefined;
        zoneFilled ||= value !== undefined;
        break;
      case "place":
        if (place) value = /^[A-Za-z]+\//.test(place) ? undefined : place;
        break;
      case "expression":
        value = expressionIn(text) ?? undefined;
        break;
      case "number": {
        const number = /-?\d+(?:\.\d+)?/.exec(text)?.[0];
        if (number !== undefined && parameter.required) value = Number(number);
        break;
      }
      case "text": {
        const chosen = Object.values(fill.arguments).filter((chosenValue): chosenValue is string => typeof chosenValue === "string");
        const neededByChoice = chosen.some((option) => new RegExp(`required[^.]*"${option}"`, "i").test(parameter.description));
        signal = false;
        if (parameter.required || neededByChoice) value = payloadOf(text);
        break;
      }
      default:
        signal = false;
    }
    // A follow-up ("And in Fahrenheit?") keeps what the last call of this tool had.
    if (value === undefined && parameter.name in previous && (parameter.required || parameter.kind === "place" || parameter.kind === "zone")) {
      value = previous[parameter.name];
      signal = false;
    }
    if (value === undefined && forced && parameter.required) {
      value = parameter.kind === "enum" ? parameter.values[0] : parameter.kind === "number" ? 0 : payloadOf(text);
      signal = false;
    }
    if (value === undefined) {
      if (parameter.required) fill.missing.push(parameter.name);
      continue;
    }
    fill.arguments[parameter.name] = value;
    if (signal) fill.signals++;
  }
  // Keep the schema's order of properties in the arguments.
  fill.arguments = Object.fromEntries(
    parameters.filter((parameter) => parameter.name in fill.arguments).map((parameter) => [parameter.name, fill.arguments[parameter.name]]),
  );
  return fill;
}

/** Every tool call made earlier in the conversation, oldest first, with parsed arguments. */
function previousCalls(messages: ChatMessage[]): PlannedCall[] {
  const calls: PlannedCall[] = [];
  for (const message of messages) {
    if (message.role !== "assistant") continue;
    for (const call of message.tool_calls ?? []) {
      let parsed: unknown = {};
      try {
        parsed = JSON.parse(call.function.arguments);
      } catch {
        // Arguments that are not JSON give nothing to reuse.
      }
      calls.push({ name: call.function.name, arguments: isJsonObject(parsed) ? parsed : {} });
    }
  }
  return calls;
}

// ---------------------------------------------------------------------------------------------
// Answering

/** An answer made of the trailing tool results, the parts the question asks about first. */
export function answerFromResults(messages: ChatMessage[], question = lastUserText(messages)): string {
  const chinese = isChinese(question);
  const names = new Map<string, string>();
  for (const message of messages) {
    if (message.role === "assistant") for (const call of message.tool_calls ?? []) names.set(call.id, call.function.name);
  }
  const results: Array<{ name: string; content: string }> = [];
  for (let index = messages.length - 1; index >= 0; index--) {
    const message = messages[index];
    if (message?.role !== "tool") break;
    const content = typeof message.content === "string" ? message.content : JSON.stringify(message.content);
    results.unshift({ name: names.get(message.tool_call_id) ?? "tool", content });
  }
  const interest = new Set([...conceptsOf(question)].flatMap((concept) => [concept, ...contentWords(englishPlace(concept))]));
  return results.map((result) => describeResult(result.name, result.content, interest, chinese)).join(" ");
}

const NOISE_KEY = /(?:^|_)(?:id|latitude|longitude|query|version|code|generationtime_ms)$/;
const MAX_FACTS = 8;

function describeResult(name: string, content: string, interest: Set<string>, chinese: boolean): string {
  let value: unknown = content;
  try {
    value = JSON.parse(content);
  } catch {
    // A plain-text result is quoted as it is.
  }
  if (isJsonObject(value) && isJsonObject(value.error)) {
    const message = String(value.error.message ?? "unknown error");
    return chinese ? `工具 ${name} 出错：${message}` : `The ${name} tool failed: ${message}`;
  }
  if (typeof value !== "object" || value === null) {
    const text = String(value).slice(0, 500);
    return chinese ? `${name} 返回：${text}` : `${name} returned: ${text}`;
  }
  const facts = leaves(value);
  if (facts.length === 0) return chinese ? `${name} 没有返回内容。` : `${name} returned nothing.`;
  const mentions = (fact: { key: string; text: string }) =>
    contentWords(`${fact.key} ${fact.text}`).some((word) => interest.has(word)) || [...interest].some((word) => fact.text.includes(word));
  const ranked = [...facts.filter(mentions), ...facts.filter((fact) => !mentions(fact))].slice(0, MAX_FACTS);
  const list = ranked.map((fact) => `${fact.key.replaceAll("_", " ")} ${fact.text}`).join(chinese ? "，" : ", ");
  return chinese ? `根据 ${name}：${list}。` : `From ${name}: ${list}.`;
}

/** The scalar values of a result with the name of the field that holds each, noise and repeats left out. */
function leaves(value: unknown, key = "", depth = 0, into: Array<{ key: string; text: string }> = []): Array<{ key: string; text: string }> {
  if (depth > 4) return into;
  if (Array.isArray(value)) {
    for (const item of value) leaves(item, key, depth + 1, into);
  } else if (isJsonObject(value)) {
    for (const [child, item] of Object.entries(value)) if (!NOISE_KEY.test(child) && !child.startsWith("_")) leaves(item, child, depth + 1, into);
  } else if (value !== null && value !== "" && value !== undefined) {
    const text = String(value);
    if (!into.some((fact) => fact.text === text)) into.push({ key, text: text.length > 300 ? `${text.slice(0, 300)}…` : text });
  }
  return into;
}

/** The fallback reply: what this model is, and what it can do with the tools offered. */
function introduction(tools: FunctionToolDefinition[], chinese: boolean): string {
  const lines = tools.map((tool) => {
    const summary = (tool.function.description ?? "").split(/(?<=[.。])\s/)[0]?.trim() ?? "";
    return `- ${tool.function.name}${summary ? `: ${summary}` : ""}`;
  });
  if (chinese) {
    return tools.length === 0
      ? "我是 Switchboard 的内置离线模型（开发工具，不是真正的大模型）。这个请求没有可用工具（无可用工具）。设置 DMXAPI_API_KEY 即可使用真实模型。"
      : `我是 Switchboard 的内置离线模型（开发工具，不是真正的大模型）：我按你的用词从工具的名称、说明和参数里挑一个工具并填好参数，再根据工具的结果回答。我能用这些工具：\n${lines.join("\n")}\n设置 DMXAPI_API_KEY 即可使用真实模型。`;
  }
  return tools.length === 0
    ? "I am Switchboard's built-in offline model (development tooling, not a real LLM), and this request offers no tools. Set DMXAPI_API_KEY to talk to a real model."
    : `I am Switchboard's built-in offline model (development tooling, not a real LLM): I pick a tool from your words by its name, description and parameters, fill its arguments from what you wrote (several places make several calls), and answer from what it returns. I can use:\n${lines.join("\n")}\nSet DMXAPI_API_KEY to talk to a real model.`;
}

// ---------------------------------------------------------------------------------------------

function lastUserText(messages: ChatMessage[]): string {
  for (let index = messages.length - 1; index >= 0; index--) {
    const message = messages[index];
    if (message?.role !== "user") continue;
    if (typeof message.content === "string") return message.content;
    return message.content.map((part) => (typeof part.text === "string" ? part.text : "")).join(" ");
  }
  return "";
}

function stableId(seed: number, text: string): string {
  let hash = 2166136261;
  for (const character of `${seed}:${text}`) hash = Math.imul(hash ^ character.codePointAt(0)!, 16777619) >>> 0;
  return hash.toString(36).padStart(7, "0");
}
