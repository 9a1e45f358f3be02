// Reads the orchestrator's configuration from its variables, once per request (they are strings on
// the env object; parsing them is cheap). Out-of-range numbers are clamped, never trusted; a value of
// the wrong form is a ConfigError naming the variable and the form it needs, never a silent default.

import type { Env } from "./env.js";
import { namedVariable } from "./env.js";
import type { KeyLimits } from "./keys/limits.js";
import { limitsProblem } from "./keys/limits.js";
import type { PriceTable } from "./keys/pricing.js";
import { parsePrices } from "./keys/pricing.js";
import { MIN_KV_TTL_SECONDS } from "./lib/kv.js";
import type { McpServersSetting } from "./mcp/servers-config.js";
import { parseMcpServers } from "./mcp/servers-config.js";
import type { ParameterPolicy } from "./protocol/parameters.js";
import { isJsonObject } from "./protocol/types.js";
import { parseKeyList } from "./security/api-keys.js";
import { configuredSecrets } from "./security/secrets.js";
import { PLATFORM_INVOCATIONS_PER_REQUEST } from "./tools/invocation-budget.js";
import { hooks } from "./webhooks/hooks.js";

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
  /** How long a stream may stay silent before a keep-alive comment is sent. */
  streamKeepAliveMs: number;
  /** First retry delay of a failed webhook job; doubles per attempt. */
  webhookRetryBaseSeconds: number;
  /** Every configured secret, for log and error redaction. */
  secrets: string[];
  toolSchemaTtlMs: number;
  /** Remote MCP servers whose tools are server tools (MCP_SERVERS). */
  mcpServers: McpServersSetting;
  /** Browser origins allowed to call POST /mcp besides the orchestrator's own (MCP_ALLOWED_ORIGINS). */
  mcpAllowedOrigins: string[];
  /** Limits a tenant's keys share (TENANT_LIMITS). */
  tenantLimits: Record<string, KeyLimits>;
  /** USD per million tokens by model (MODEL_PRICES), and whether an unpriced model may run under a spend limit. */
  prices: { table: PriceTable; allowUnpriced: boolean };
  /** Which calls wait for a person (APPROVAL_REQUIRED_TOOLS, APPROVAL_TTL_SECONDS). */
  approvals: { tools: "*" | string[]; ttlSeconds: number };
  /** Per tenant, the only server tools its keys may use (TENANT_SERVER_TOOLS); null when unreadable. */
  tenantTools: Record<string, string[]> | null;
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

/** Unset is a documented state (every request refused); set but without a single key is a mistake. */
function checkClientKeys(env: Env): void {
  if (parseKeyList(env.SWITCHBOARD_API_KEYS).length === 0 && env.SWITCHBOARD_API_KEYS?.trim()) {
    throw new ConfigError("SWITCHBOARD_API_KEYS", "comma-separated keys, each `key` or `tenant:key`");
  }
}

// The variables are fixed for an isolate's life (a changed one means a new deploy, a new isolate):
// parse them once per env object rather than on every request.
const parsed = new WeakMap<Env, Config>();

export function readConfig(env: Env): Config {
  const known = parsed.get(env);
  if (known) return known;
  const config = parseConfig(env);
  parsed.set(env, config);
  return config;
}

function parseConfig(env: Env): Config {
  const apiKey = env.DMXAPI_API_KEY?.trim() || null;
  const model = env.DMXAPI_MODEL?.trim() || "gpt-5-mini";
  const extra = list(env.DMXAPI_MODELS);
  checkClientKeys(env);
  const fallbackModels = list(env.DMXAPI_FALLBACK_MODELS).filter((name) => name !== model);
  const mcpServers = parseMcpServers(env.MCP_SERVERS);
  const mcpSecrets = mcpServers.servers.flatMap((server) => Object.values(server.headers).map((name) => namedVariable(env, name) ?? ""));
  return {
    dmxapi: {
      apiKey,
      baseUrl: baseUrl(env),
      model,
      models: [...new Set([model, ...extra, ...fallbackModels])],
      fallbackModels,
      timeoutMs: integer(env, "DMXAPI_TIMEOUT_MS", 60_000, 100, 600_000),
      maxRetries: integer(env, "DMXAPI_MAX_RETRIES", 2, 0, 10),
      maxResponseBytes: integer(env, "MAX_UPSTREAM_RESPONSE_BYTES", 8 * 1_048_576, 65_536, 100 * 1_048_576),
    },
    parameters: {
      allowed: new Set(list(env.ALLOWED_PARAMETERS)),
      maxOutputTokens: integer(env, "MAX_OUTPUT_TOKENS", 32_768, 1, 1_000_000),
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
      maxJsonDepth: integer(env, "MAX_JSON_DEPTH", 64, 8, 1_000),
      maxStringChars: integer(env, "MAX_STRING_CHARS", 524_288, 1_024, 100 * 1_048_576),
    },
    idempotencyTtlSeconds: integer(env, "IDEMPOTENCY_TTL_SECONDS", 86_400, MIN_KV_TTL_SECONDS, 30 * 86_400),
    streamKeepAliveMs: integer(env, "STREAM_KEEPALIVE_MS", 10_000, 100, 600_000),
    webhookRetryBaseSeconds: integer(env, "WEBHOOK_RETRY_BASE_SECONDS", 10, 0, 3_600),
    secrets: [...configuredSecrets(env, hooks.values()), ...mcpSecrets.filter((secret) => secret !== "")],
    toolSchemaTtlMs: integer(env, "TOOL_SCHEMA_TTL_SECONDS", 60, 0, 86_400) * 1000,
    mcpServers,
    mcpAllowedOrigins: list(env.MCP_ALLOWED_ORIGINS),
    tenantLimits: tenantLimits(env),
    prices: { table: priceTable(env), allowUnpriced: env.ALLOW_UNPRICED_MODELS?.trim() === "true" },
    approvals: { tools: approvalTools(env), ttlSeconds: integer(env, "APPROVAL_TTL_SECONDS", 86_400, 1, 30 * 86_400) },
    tenantTools: parseTenantTools(env.TENANT_SERVER_TOOLS),
    conversations: {
      ttlSeconds: integer(env, "CONVERSATION_TTL_SECONDS", 30 * 86_400, MIN_KV_TTL_SECONDS, 365 * 86_400),
      // A turn's history comes from its home in one RPC (32 MiB), as UTF-16 once it holds a character
      // outside Latin-1 (2 bytes each), and the KV copy must stay below KV's 25 MiB.
      maxBytes: integer(env, "MAX_CONVERSATION_BYTES", 2 * 1_048_576, 1_024, 15 * 1_048_576),
    },
  };
}

function tenantLimits(env: Env): Record<string, KeyLimits> {
  const raw = env.TENANT_LIMITS;
  if (raw === undefined || raw.trim() === "") return {};
  const expected = '{"tenant": {"requests_per_minute"?, "concurrent_turns"?, "tokens_per_day"?, "spend_usd_per_day"?, "spend_usd_per_month"?}}';
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new ConfigError("TENANT_LIMITS", expected);
  }
  if (!isJsonObject(value)) throw new ConfigError("TENANT_LIMITS", expected);
  const limits: Record<string, KeyLimits> = Object.create(null) as Record<string, KeyLimits>;
  for (const [tenant, entry] of Object.entries(value)) {
    const problem = limitsProblem(entry) ?? (isJsonObject(entry) && Object.values(entry).includes(null) ? "limits without nulls" : null);
    if (problem) throw new ConfigError("TENANT_LIMITS", `${expected}; ${JSON.stringify(tenant).slice(0, 64)}: ${problem}`);
    limits[tenant] = entry as KeyLimits;
  }
  return limits;
}

function priceTable(env: Env): PriceTable {
  const table = parsePrices(env.MODEL_PRICES);
  if (typeof table === "string") throw new ConfigError("MODEL_PRICES", table);
  return table;
}

/** `*`, or tool names (`<server>__<tool>` for an MCP server's): a name that cannot be a tool's is a mistake, refused at start. */
function approvalTools(env: Env): "*" | string[] {
  const names = list(env.APPROVAL_REQUIRED_TOOLS);
  if (names.includes("*")) return "*";
  if (names.some((name) => !/^[A-Za-z0-9_-]{1,64}$/.test(name))) throw new ConfigError("APPROVAL_REQUIRED_TOOLS", "tool names separated by commas, or *");
  return names;
}

/** A tenant's configured limits, if it has any (own entries only: a tenant named `constructor` has none). */
export function tenantLimitsOf(config: Config, tenant: string): KeyLimits | undefined {
  return Object.hasOwn(config.tenantLimits, tenant) ? config.tenantLimits[tenant] : undefined;
}

/** The server tools a tenant's keys may use; undefined: every tool. An unreadable setting allows none. */
export function toolsForTenant(config: Config, tenant: string): readonly string[] | undefined {
  if (config.tenantTools === null) return [];
  return Object.hasOwn(config.tenantTools, tenant) ? config.tenantTools[tenant] : undefined;
}

/** `{"tenant": ["tool", ...]}`; null when it is not such an object, so a broken restriction opens nothing. */
function parseTenantTools(raw: string | undefined): Record<string, string[]> | null {
  if (raw === undefined || raw.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isJsonObject(value)) return null;
  const tools: Record<string, string[]> = {};
  for (const [tenant, names] of Object.entries(value)) {
    tools[tenant] = Array.isArray(names) ? names.filter((name): name is string => typeof name === "string") : [];
  }
  return tools;
}
