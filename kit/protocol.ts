// The wire contract between the orchestrator and a tool Worker. Both sides import these types;
// nothing here may import orchestrator code, so a tool Worker bundles the kit and nothing else.

/** Function names OpenAI-compatible APIs accept: a tool whose name fails this would fail every request. */
export const TOOL_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** A JSON Schema document, as produced by zod and read by the orchestrator's validator. */
export type JsonSchema = { [keyword: string]: unknown };

/** What `GET /schema` returns: an OpenAI tool definition plus what the orchestrator needs to know. */
export interface ToolSchemaResponse {
  type: "function";
  function: {
    name: string;
    description: string;
    parameters: JsonSchema;
  };
  metadata: {
    /** Changes whenever the definition changes; the orchestrator's schema cache is keyed by it. */
    version: string;
    /** True when running the tool changes something (writes, sends): it then gets an idempotency key. */
    side_effects: boolean;
    /**
     * True when the tool keeps data per conversation and answers `POST /forget`: deleting a
     * conversation asks it to forget that conversation's data. Absent means false.
     */
    forgets_conversations?: boolean;
    /**
     * Which calls wait for a person's approval: all (`"always"`), or those whose arguments match
     * the JSON Schema `when`. Absent: none, unless the operator names the tool.
     */
    approval?: "always" | { when: JsonSchema };
  };
}

/** Who is calling and on behalf of what; the orchestrator fills it in for every call. */
export interface ToolCallContext {
  conversation_id: string | null;
  tool_call_id: string;
  request_id: string;
  tenant: string;
  /** The turn this call belongs to; the same when a turn is re-run (a client retry, a queue redelivery). */
  turn_id?: string;
  /**
   * Stable for one tool call of one turn (turn, step, position), so a retried call, and a re-run of
   * the whole turn, carry the same key: a tool with side effects uses it to apply them once.
   */
  idempotency_key: string;
  /**
   * W3C Trace Context of this call (`00-<trace id>-<span id>-<flags>`): the span is the orchestrator's
   * `execute_tool` span, so work the tool traces or logs under it joins the turn's trace.
   */
  traceparent?: string;
}

/** Body of `POST /invoke`. */
export interface ToolInvokeRequest {
  arguments: unknown;
  context: ToolCallContext;
}

export interface ToolInvokeSuccess {
  result: unknown;
}

export type ToolErrorType = "invalid_arguments" | "invalid_request" | "not_found" | "tool_error" | "upstream_error" | "internal_error";

export interface ToolInvokeFailure {
  error: {
    type: ToolErrorType;
    message: string;
    code: string | null;
  };
}

export type ToolInvokeResponse = ToolInvokeSuccess | ToolInvokeFailure;

/** Body of `POST /forget`: one conversation of one tenant, whose data the tool deletes. */
export interface ForgetRequest {
  tenant: string;
  conversation_id: string;
}

/** Answer of `POST /forget`: how many stored items were deleted (0 when there were none). */
export interface ForgetResponse {
  forgotten: number;
}

/** Header the orchestrator sets on `/invoke` so a tool can dedupe side effects without parsing the body. */
export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";
