// Reads the orchestrator's configuration from its variables, once per request (they are strings on
// the env object; parsing them is cheap). Out-of-range numbers are clamped, never trusted.

import { MIN_KV_TTL_SECONDS } from "./conversations/store.js";
import type { Env } from "./env.js";
import type { ParameterPolicy } from "./protocol/parameters.js";
import { configuredSecrets } from "./security/secrets.js";
import { PLATFORM_INVOCATIONS_PER_REQUEST } from "./tools/invocation-budget.js";

export const OFFLINE_MODEL_NAME = "switchboard-offline";

export interface Config {
  dmxapi: {
    apiKey: string | null;
    baseUrl: string;
    model: string;
    models: string[];
    fallbackModels: string[];
    timeoutMs: number;
    maxRetries: number;
    /** Largest response body read from the upstream (a whole stream included). */
    maxResponseBytes: number;
  };
  offline: boolean;
  /** What clients may set in a request (see protocol/parameters.ts). */
  parameters: ParameterPolicy;
  limits: {
    maxSteps: number;
    maxToolCallsPerStep: number;
    toolTimeoutMs: number;
    maxToolOutputChars: number;
    maxToolInvocations: number;
    maxBodyBytes: number;
    maxMessages: number;
    turnDeadlineMs: number;
    maxJsonDepth: number;
    maxStringChars: number;
  };
  idempotencyTtlSeconds: number;
  /** Every configured secret, for log and error redaction. */
  secrets: string[];
  toolSchemaTtlMs: number;
  conversations: {
    ttlSeconds: number;
    maxBytes: number;
  };
}

function list(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
}

function integer(value: string | undefined, fallback: number, min: number, max: number): number {
  const parsed = value === undefined || value.trim() === "" ? Number.NaN : Number(value);
  if (!Number.isInteger(parsed)) return fallback;
  return Math.min(max, Math.max(min, parsed));
}

export function readConfig(env: Env): Config {
  const apiKey = env.DMXAPI_API_KEY?.trim() || null;
  const offlineSetting = (env.OFFLINE_MODEL ?? "off").trim().toLowerCase();
  const offline = offlineSetting === "on" || (offlineSetting === "auto" && apiKey === null);
  const model = env.DMXAPI_MODEL?.trim() || "gpt-5-mini";
  const extra = list(env.DMXAPI_MODELS);
  const fallbackModels = offline ? [] : list(env.DMXAPI_FALLBACK_MODELS).filter((name) => name !== model);
  return {
    dmxapi: {
      apiKey,
      baseUrl: env.DMXAPI_BASE_URL?.trim() || "https://www.dmxapi.cn/v1",
      model: offline ? OFFLINE_MODEL_NAME : model,
      models: offline ? [OFFLINE_MODEL_NAME] : [...new Set([model, ...extra, ...fallbackModels])],
      fallbackModels,
      timeoutMs: integer(env.DMXAPI_TIMEOUT_MS, 60_000, 1_000, 600_000),
      maxRetries: integer(env.DMXAPI_MAX_RETRIES, 2, 0, 10),
      maxResponseBytes: integer(env.MAX_UPSTREAM_RESPONSE_BYTES, 8 * 1_048_576, 65_536, 100 * 1_048_576),
    },
    offline,
    parameters: {
      allowed: new Set(list(env.ALLOWED_PARAMETERS)),
      maxOutputTokens: integer(env.MAX_OUTPUT_TOKENS, 32_768, 1, 1_000_000),
    },
    limits: {
      maxSteps: integer(env.MAX_STEPS, 8, 1, 32),
      maxToolCallsPerStep: integer(env.MAX_TOOL_CALLS_PER_STEP, 8, 1, 64),
      toolTimeoutMs: integer(env.TOOL_TIMEOUT_MS, 10_000, 100, 120_000),
      maxToolOutputChars: integer(env.MAX_TOOL_OUTPUT_CHARS, 16_000, 256, 1_000_000),
      // One invocation is the orchestrator itself.
      maxToolInvocations: integer(env.MAX_TOOL_INVOCATIONS, PLATFORM_INVOCATIONS_PER_REQUEST - 1, 1, PLATFORM_INVOCATIONS_PER_REQUEST - 1),
      maxBodyBytes: integer(env.MAX_BODY_BYTES, 1_048_576, 1_024, 100 * 1_048_576),
      maxMessages: integer(env.MAX_MESSAGES, 500, 1, 10_000),
      turnDeadlineMs: integer(env.TURN_DEADLINE_MS, 300_000, 1_000, 3_600_000),
      maxJsonDepth: integer(env.MAX_JSON_DEPTH, 64, 8, 1_000),
      maxStringChars: integer(env.MAX_STRING_CHARS, 524_288, 1_024, 100 * 1_048_576),
    },
    idempotencyTtlSeconds: integer(env.IDEMPOTENCY_TTL_SECONDS, 86_400, MIN_KV_TTL_SECONDS, 30 * 86_400),
    secrets: configuredSecrets(env),
    toolSchemaTtlMs: integer(env.TOOL_SCHEMA_TTL_SECONDS, 60, 0, 86_400) * 1000,
    conversations: {
      ttlSeconds: integer(env.CONVERSATION_TTL_SECONDS, 30 * 86_400, MIN_KV_TTL_SECONDS, 365 * 86_400),
      // KV takes values up to 25 MiB; every turn rewrites the snapshot, so keep it well below.
      maxBytes: integer(env.MAX_CONVERSATION_BYTES, 2 * 1_048_576, 1_024, 25 * 1_048_576 - 1_024),
    },
  };
}
