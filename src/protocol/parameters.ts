// Which request parameters a client may set. The model is called on the operator's key, so the
// operator decides: the Chat Completions parameters that only shape the answer pass; token limits
// are capped; parameters that bill or store data on the operator's account are refused unless the
// operator allows them (ALLOWED_PARAMETERS), except for values that do neither (`store: false`);
// anything unknown is refused as OpenAI refuses it, naming the parameter.

import { invalidRequest } from "../errors.js";
import type { JsonObject } from "./types.js";

/** Switchboard's own fields: they steer the orchestrator and are never forwarded. */
export const OWN_PARAMETERS: ReadonlySet<string> = new Set(["conversation_id", "server_tools"]);

/** Chat Completions parameters that shape the answer and cost nothing beyond the call itself. */
const ANSWER_PARAMETERS = [
  "model",
  "messages",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "stream",
  "stream_options",
  "temperature",
  "top_p",
  "n",
  "stop",
  "max_tokens",
  "max_completion_tokens",
  "presence_penalty",
  "frequency_penalty",
  "logit_bias",
  "logprobs",
  "top_logprobs",
  "response_format",
  "seed",
  "user",
  "safety_identifier",
  "prompt_cache_key",
  "verbosity",
  "modalities",
  // Deprecated predecessors of tools / tool_choice; older clients still send them.
  "functions",
  "function_call",
  // DMXAPI's documented switches for reasoning models.
  "reasoning_effort",
  "thinking",
  "enable_thinking",
] as const;

/**
 * Parameters that bill extra or keep data on the operator's account, with the values that do
 * neither (those pass, so clients that send the default explicitly keep working).
 */
const GUARDED_PARAMETERS: Readonly<Record<string, (value: unknown) => boolean>> = {
  service_tier: (value) => value === null || value === "auto" || value === "default",
  store: (value) => value === null || value === false,
  metadata: (value) => value === null,
  web_search_options: (value) => value === null,
  prediction: (value) => value === null,
  audio: (value) => value === null,
  prompt_cache_retention: (value) => value === null || value === "in_memory",
};

/** Output that is billed as audio: `modalities` may ask only for text unless audio is allowed. */
const isTextOnly = (value: unknown) => value === null || (Array.isArray(value) && value.every((modality) => modality === "text"));

export const KNOWN_PARAMETERS: ReadonlySet<string> = new Set([...ANSWER_PARAMETERS, ...Object.keys(GUARDED_PARAMETERS), ...OWN_PARAMETERS]);

export const TOKEN_LIMIT_PARAMETERS = ["max_tokens", "max_completion_tokens"] as const;

export interface ParameterPolicy {
  /** Guarded or unknown parameters the operator lets clients set anyway. */
  allowed: ReadonlySet<string>;
  /** Token limits above this are lowered to it. */
  maxOutputTokens: number;
}

/**
 * Checks the client's body against the policy: throws a 400 naming the first refused parameter,
 * otherwise returns the body with its token limits capped.
 */
export function applyParameterPolicy<Body extends JsonObject>(body: Body, policy: ParameterPolicy): Body {
  for (const [name, value] of Object.entries(body)) {
    if (policy.allowed.has(name)) continue;
    const harmless = GUARDED_PARAMETERS[name];
    if (harmless && !harmless(value)) {
      throw invalidRequest(
        `The parameter '${name}' is not accepted here: it would bill or store data on the operator's account.`,
        name,
        "parameter_not_allowed",
      );
    }
    if (name === "modalities" && !isTextOnly(value) && !policy.allowed.has("audio")) {
      throw invalidRequest("The parameter 'modalities' may only ask for text here: audio output is billed to the operator.", name, "parameter_not_allowed");
    }
    if (!KNOWN_PARAMETERS.has(name)) throw invalidRequest(`Unrecognized request argument supplied: ${name}`, name, "unknown_parameter");
  }
  const capped: JsonObject = { ...body };
  for (const name of TOKEN_LIMIT_PARAMETERS) {
    const value = capped[name];
    if (typeof value === "number" && value > policy.maxOutputTokens) capped[name] = policy.maxOutputTokens;
  }
  return capped as Body;
}
