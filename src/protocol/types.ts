// OpenAI Chat Completions wire types, snake_case as on the wire. Every object is open: upstreams add
// fields (reasoning_content, extra_content.google.thought_signature, annotations...) that must be
// kept and echoed back verbatim, so each type carries an index signature of `unknown`.

export type JsonObject = { [key: string]: unknown };

export interface FunctionCall extends JsonObject {
  name: string;
  arguments: string;
}

export interface ToolCall extends JsonObject {
  id: string;
  type: "function";
  function: FunctionCall;
}

export interface FunctionToolDefinition extends JsonObject {
  type: "function";
  function: {
    name: string;
    description?: string;
    parameters?: JsonObject;
    strict?: boolean;
  } & JsonObject;
}

export type ContentPart = JsonObject & { type: string };

export interface SystemMessage extends JsonObject {
  role: "system" | "developer";
  content: string | ContentPart[];
}

export interface UserMessage extends JsonObject {
  role: "user";
  content: string | ContentPart[];
}

export interface AssistantMessage extends JsonObject {
  role: "assistant";
  content: string | ContentPart[] | null;
  tool_calls?: ToolCall[];
}

export interface ToolMessage extends JsonObject {
  role: "tool";
  tool_call_id: string;
  content: string | ContentPart[];
}

export type ChatMessage = SystemMessage | UserMessage | AssistantMessage | ToolMessage;

export type ToolChoice = "none" | "auto" | "required" | { type: "function"; function: { name: string } };

export interface Usage extends JsonObject {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** What the orchestrator sends upstream. Fields it does not know are forwarded as the client sent them. */
export interface ChatCompletionRequest extends JsonObject {
  model: string;
  messages: ChatMessage[];
  tools?: FunctionToolDefinition[];
  tool_choice?: ToolChoice;
  stream?: boolean;
}

export interface ChatCompletionChoice extends JsonObject {
  index: number;
  message: AssistantMessage;
  finish_reason: string | null;
}

export interface ChatCompletion extends JsonObject {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: ChatCompletionChoice[];
  usage?: Usage | null;
}

export interface OpenAIErrorBody {
  error: {
    message: string;
    type: string;
    param: string | null;
    code: string | number | null;
  };
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
