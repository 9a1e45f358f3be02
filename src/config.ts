// Reads the orchestrator's configuration from its variables, once per request (they are strings on
// the env object; parsing them is cheap). Out-of-range numbers are clamped, never trusted; a value of
// the wrong form is a ConfigError naming the variable and the form it needs, never a silent default.

import { MIN_KV_TTL_SECONDS } from "./conversations/store.js";
import type { Env } from "./env.js";
import { parseKeyList } from "./security/api-keys.js";
import { PLATFORM_INVOCATIONS_PER_REQUEST } from "./tools/invocation-budget.js";

export interface Config {
  dmxapi: {
    apiKey: string | null;
    baseUrl: string;
    model: string;
    models: string[];
    fallbackModels: string[];
    timeoutMs: number;
    maxRetries: number;
  };
  limits: {
    maxSteps: number;
    maxToolCallsPerStep: number;
    toolTimeoutMs: number;
    maxToolOutputChars: number;
    maxToolInvocations: number;
    maxBodyBytes: number;
    maxMessages: number;
    turnDeadlineMs: number;
  };
  idempotencyTtlSeconds: number;
  /** Every configured secret, for log and error redaction. */
  secrets: string[];
  toolSchemaTtlMs: number;
  conversations: {
    ttlSeconds: number;
    maxBytes: number;
  };
  /** Silence before a `: keep-alive` comment on a stream. */
  streamKeepAliveMs: number;
  /** First retry delay of a failed webhook job; doubles per attempt. */
  webhookRetryBaseSeconds: number;
}

function list(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
}

/** A variable whose value has the wrong form. The message names the variable, never its value (it may be a secret). */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly expected: string,
  ) {
    super(`${variable} must be ${expected}.`);
    this.name = "ConfigError";
  }
}

type Variable = keyof Env & string;

function integer(env: Env, name: Variable, fallback: number, min: number, max: number): number {
  const value = env[name];
  if (typeof value !== "string" || value.trim() === "") return fallback;
  const parsed = Number(value.trim());
  if (!/^[-+]?\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed)) throw new ConfigError(name, `a whole number (e.g. ${fallback})`);
  return Math.min(max, Math.max(min, parsed));
}

function baseUrl(env: Env): string {
  const value = env.DMXAPI_BASE_URL?.trim();
  if (!value) return "https://www.dmxapi.cn/v1";
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:"))
    throw new ConfigError("DMXAPI_BASE_URL", "an http(s) URL such as https://www.dmxapi.cn/v1");
  return value;
}

function clientKeys(env: Env): Array<{ key: string }> {
  const keys = parseKeyList(env.SWITCHBOARD_API_KEYS);
  // Unset is a documented state (every request refused); set but without a single key is a mistake.
  if (keys.length === 0 && env.SWITCHBOARD_API_KEYS?.trim()) {
    throw new ConfigError("SWITCHBOARD_API_KEYS", "comma-separated keys, each `key` or `tenant:key`");
  }
  return keys;
}

export function readConfig(env: Env): Config {
  const apiKey = env.DMXAPI_API_KEY?.trim() || null;
  const model = env.DMXAPI_MODEL?.trim() || "gpt-5-mini";
  const extra = list(env.DMXAPI_MODELS);
  const fallbackModels = list(env.DMXAPI_FALLBACK_MODELS).filter((name) => name !== model);
  return {
    dmxapi: {
      apiKey,
      baseUrl: baseUrl(env),
      model,
      models: [...new Set([model, ...extra, ...fallbackModels])],
      fallbackModels,
      timeoutMs: integer(env, "DMXAPI_TIMEOUT_MS", 60_000, 100, 600_000),
      maxRetries: integer(env, "DMXAPI_MAX_RETRIES", 2, 0, 10),
    },
    limits: {
      maxSteps: integer(env, "MAX_STEPS", 8, 1, 32),
      maxToolCallsPerStep: integer(env, "MAX_TOOL_CALLS_PER_STEP", 8, 1, 64),
      toolTimeoutMs: integer(env, "TOOL_TIMEOUT_MS", 10_000, 100, 120_000),
      maxToolOutputChars: integer(env, "MAX_TOOL_OUTPUT_CHARS", 16_000, 256, 1_000_000),
      // One invocation is the orchestrator itself.
      maxToolInvocations: integer(env, "MAX_TOOL_INVOCATIONS", PLATFORM_INVOCATIONS_PER_REQUEST - 1, 1, PLATFORM_INVOCATIONS_PER_REQUEST - 1),
      maxBodyBytes: integer(env, "MAX_BODY_BYTES", 1_048_576, 1_024, 100 * 1_048_576),
      maxMessages: integer(env, "MAX_MESSAGES", 500, 1, 10_000),
      turnDeadlineMs: integer(env, "TURN_DEADLINE_MS", 300_000, 100, 3_600_000),
    },
    idempotencyTtlSeconds: integer(env, "IDEMPOTENCY_TTL_SECONDS", 86_400, MIN_KV_TTL_SECONDS, 30 * 86_400),
    secrets: [...(apiKey ? [apiKey] : []), ...clientKeys(env).map((entry) => entry.key)],
    toolSchemaTtlMs: integer(env, "TOOL_SCHEMA_TTL_SECONDS", 60, 0, 86_400) * 1000,
    conversations: {
      ttlSeconds: integer(env, "CONVERSATION_TTL_SECONDS", 30 * 86_400, MIN_KV_TTL_SECONDS, 365 * 86_400),
      // KV takes values up to 25 MiB; every turn rewrites the snapshot, so keep it well below.
      maxBytes: integer(env, "MAX_CONVERSATION_BYTES", 2 * 1_048_576, 1_024, 25 * 1_048_576 - 1_024),
    },
    streamKeepAliveMs: integer(env, "STREAM_KEEPALIVE_MS", 10_000, 100, 600_000),
    webhookRetryBaseSeconds: integer(env, "WEBHOOK_RETRY_BASE_SECONDS", 10, 0, 3_600),
  };
}
