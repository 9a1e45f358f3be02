// The orchestrator's bindings and variables. Tool Workers are the `TOOL_*` service bindings; they are
// found at run time, so they have no fields here; neither have the webhook secrets, whose names
// each hook declares.

import type { WebhookJob } from "./webhooks/deliveries.js";

export interface Env {
  CONVERSATIONS: KVNamespace;
  /** Accepted webhook events wait here for the consumer that runs their turns. */
  WEBHOOK_QUEUE: Queue<WebhookJob>;
  /** First retry delay of a failed webhook job; doubles per attempt (default 10). */
  WEBHOOK_RETRY_BASE_SECONDS?: string;
  /** Client keys, comma-separated, each `key` or `tenant:key`. A secret. */
  SWITCHBOARD_API_KEYS?: string;
  DMXAPI_API_KEY?: string;
  DMXAPI_BASE_URL?: string;
  DMXAPI_MODEL?: string;
  /** Extra model names listed by GET /v1/models, comma-separated. */
  DMXAPI_MODELS?: string;
  /** Models tried in order when the requested one keeps failing, comma-separated. */
  DMXAPI_FALLBACK_MODELS?: string;
  DMXAPI_TIMEOUT_MS?: string;
  DMXAPI_MAX_RETRIES?: string;
  /** "auto": use the built-in offline model when no DMXAPI key is set (local runs); "on"; "off" (default). */
  OFFLINE_MODEL?: string;
  MAX_STEPS?: string;
  MAX_TOOL_CALLS_PER_STEP?: string;
  TOOL_TIMEOUT_MS?: string;
  MAX_TOOL_OUTPUT_CHARS?: string;
  MAX_TOOL_INVOCATIONS?: string;
  TOOL_SCHEMA_TTL_SECONDS?: string;
  CONVERSATION_TTL_SECONDS?: string;
  MAX_CONVERSATION_BYTES?: string;
  MAX_BODY_BYTES?: string;
  MAX_MESSAGES?: string;
  /** A whole turn, every step and tool included, must end within this. */
  TURN_DEADLINE_MS?: string;
  IDEMPOTENCY_TTL_SECONDS?: string;
  /** How long a stream may stay silent before a keep-alive comment is sent. */
  STREAM_KEEPALIVE_MS?: string;
}
