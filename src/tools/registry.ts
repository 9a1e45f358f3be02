// The tool registry: which server tools exist (learned from the orchestrator's `TOOL_*` service
// bindings, each asked for its `GET /schema`), whether a call's arguments fit, and dispatch over the
// binding. Adding a tool is deploying its Worker and adding a binding; no code here changes.

import { Validator } from "@cfworker/json-schema";
import type { ToolCallContext, ToolInvokeResponse, ToolSchemaResponse } from "../../kit/protocol.js";
import { TOOL_NAME_PATTERN } from "../../kit/protocol.js";
import type { FunctionToolDefinition, JsonObject } from "../protocol/types.js";
import { isJsonObject } from "../protocol/types.js";
import type { InvocationBudget } from "./invocation-budget.js";

export const TOOL_BINDING_PREFIX = "TOOL_";
/** How long one tool Worker may take to answer GET /schema before it is left out of this request. */
export const DISCOVERY_TIMEOUT_MS = 5_000;

export interface ServerTool {
  name: string;
  /** Exactly what is sent to the model: `{type, function}` and nothing of ours. */
  definition: FunctionToolDefinition;
  version: string;
  sideEffects: boolean;
  /** The tool keeps data per conversation and forgets it on `POST /forget`. */
  forgetsConversations?: boolean;
  /** The service binding calls go through; empty for a remote MCP server's tool. */
  binding: string;
  /** Returns the problems with `args` against the tool's JSON Schema, empty when they fit. */
  validate(args: JsonObject): string[];
  /** Which of its calls wait for a person (declared by the tool, or its MCP server's entry); absent: none. */
  approval?: "always" | ((args: JsonObject) => boolean);
  /** Set when the tool is an MCP server's (src/tools/mcp-tools.ts); absent for a tool Worker. */
  mcp?: { server: string; tool: string; url: string | null; annotations: JsonObject | null };
}

export type ToolOutcome = { ok: true; result: unknown } | { ok: false; type: string; message: string };

export interface InvokeOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface ToolRegistry {
  list(): Promise<ServerTool[]>;
  invoke(tool: ServerTool, args: JsonObject, context: ToolCallContext, options: InvokeOptions): Promise<ToolOutcome>;
}

export interface RegistryOptions {
  /** The Worker's env: every `TOOL_*` entry with a `fetch` is a tool Worker. */
  env: object;
  cacheTtlMs: number;
  discoveryTimeoutMs: number;
  /** Service-binding invocations this request may still make (the platform caps them per request). */
  budget: InvocationBudget;
  now?: () => number;
}

interface CacheEntry {
  tool: ServerTool | null;
  fetchedAt: number;
}

// Per isolate: a warm isolate answers discovery from memory until the entry expires. A redeployed
// tool is seen again within the TTL, and a new version replaces the cached validator too.
const schemaCache = new Map<string, CacheEntry>();

export function clearToolSchemaCache(): void {
  schemaCache.clear();
}

function toolBindings(env: object): Array<[string, Fetcher]> {
  return Object.entries(env)
    .filter((entry): entry is [string, Fetcher] => {
      const [name, value] = entry;
      return name.startsWith(TOOL_BINDING_PREFIX) && typeof (value as Partial<Fetcher> | null)?.fetch === "function";
    })
    .sort(([left], [right]) => left.localeCompare(right));
}

export function createToolRegistry(options: RegistryOptions): ToolRegistry {
  const now = options.now ?? Date.now;

  async function discover(binding: string, fetcher: Fetcher): Promise<ServerTool | null> {
    const cached = schemaCache.get(binding);
    if (cached && now() - cached.fetchedAt < options.cacheTtlMs) return cached.tool;
    if (!options.budget.tryTake()) return cached?.tool ?? null;
    try {
      const response = await fetcher.fetch("https://tool.internal/schema", {
        signal: AbortSignal.timeout(options.discoveryTimeoutMs),
      });
      if (!response.ok) throw new Error(`GET /schema answered ${response.status}`);
      const schema = parseSchemaResponse(await response.json());
      const tool = cached?.tool?.version === schema.metadata.version ? cached.tool : toServerTool(binding, schema);
      schemaCache.set(binding, { tool, fetchedAt: now() });
      return tool;
    } catch (error) {
      console.warn(JSON.stringify({ event: "tool_discovery_failed", binding, message: error instanceof Error ? error.message : String(error) }));
      // Keep serving the last good schema for a while rather than losing the tool on one bad answer.
      return cached?.tool ?? null;
    }
  }

  return {
    async list() {
      const found = await Promise.all(toolBindings(options.env).map(([binding, fetcher]) => discover(binding, fetcher)));
      const byName = new Map<string, ServerTool>();
      for (const tool of found) {
        if (tool && !byName.has(tool.name)) byName.set(tool.name, tool);
      }
      return [...byName.values()];
    },

    async invoke(tool, args, context, invokeOptions) {
      const fetcher = (options.env as Record<string, Fetcher | undefined>)[tool.binding];
      if (!fetcher) return { ok: false, type: "unknown_tool", message: `Tool ${tool.name} is no longer bound.` };
      if (!options.budget.tryTake()) {
        return {
          ok: false,
          type: "invocation_budget_exhausted",
          message: `Not run: this request already made ${options.budget.limit} tool Worker calls, the most one request may make. Answer with what you have.`,
        };
      }
      const timeout = AbortSignal.timeout(invokeOptions.timeoutMs);
      const signal = invokeOptions.signal ? AbortSignal.any([invokeOptions.signal, timeout]) : timeout;
      let response: Response;
      let text: string;
      try {
        response = await fetcher.fetch("https://tool.internal/invoke", {
          method: "POST",
          headers: {
            "Content-Type": "application/json",
            "Idempotency-Key": context.idempotency_key,
            ...(context.traceparent ? { traceparent: context.traceparent } : {}),
          },
          body: JSON.stringify({ arguments: args, context }),
          signal,
        });
        text = await response.text();
      } catch (error) {
        if (timeout.aborted) {
          return { ok: false, type: "tool_timeout", message: `Tool ${tool.name} did not answer within ${invokeOptions.timeoutMs} ms.` };
        }
        // A Worker that throws surfaces here too: the binding rejects with the tool's exception.
        return { ok: false, type: "tool_error", message: `Tool ${tool.name} failed: ${error instanceof Error ? error.message : String(error)}` };
      }
      let body: ToolInvokeResponse | null = null;
      try {
        const parsed: unknown = JSON.parse(text);
        if (isJsonObject(parsed) && ("result" in parsed || isJsonObject(parsed.error))) body = parsed as unknown as ToolInvokeResponse;
      } catch {
        body = null;
      }
      if (response.ok && body && "result" in body) return { ok: true, result: body.result };
      if (body && "error" in body) return { ok: false, type: body.error.type, message: body.error.message };
      return { ok: false, type: "tool_error", message: `Tool ${tool.name} answered ${response.status} without a readable result.` };
    },
  };
}

function parseSchemaResponse(value: unknown): ToolSchemaResponse {
  if (!isJsonObject(value) || value.type !== "function" || !isJsonObject(value.function) || typeof value.function.name !== "string") {
    throw new Error("GET /schema did not return a function tool definition");
  }
  // A name the model API rejects would fail every chat request, not just this tool's calls.
  if (!TOOL_NAME_PATTERN.test(value.function.name)) {
    throw new Error(`tool name ${JSON.stringify(value.function.name.slice(0, 80))} is not a valid function name`);
  }
  const metadata = isJsonObject(value.metadata) ? value.metadata : {};
  return {
    type: "function",
    function: {
      name: value.function.name,
      description: typeof value.function.description === "string" ? value.function.description : "",
      parameters: isJsonObject(value.function.parameters) ? value.function.parameters : { type: "object", properties: {} },
    },
    metadata: {
      version: typeof metadata.version === "string" ? metadata.version : "unversioned",
      side_effects: metadata.side_effects === true,
      forgets_conversations: metadata.forgets_conversations === true,
      ...(metadata.approval === "always" || (isJsonObject(metadata.approval) && isJsonObject(metadata.approval.when))
        ? { approval: metadata.approval as NonNullable<ToolSchemaResponse["metadata"]["approval"]> }
        : {}),
    },
  };
}

function toServerTool(binding: string, schema: ToolSchemaResponse): ServerTool {
  return {
    name: schema.function.name,
    definition: { type: "function", function: { ...schema.function } },
    version: schema.metadata.version,
    sideEffects: schema.metadata.side_effects,
    forgetsConversations: schema.metadata.forgets_conversations === true,
    binding,
    validate: schemaValidator(schema.function.parameters),
    ...approvalOf(schema.metadata.approval),
  };
}

function approvalOf(declared: ToolSchemaResponse["metadata"]["approval"]): Pick<ServerTool, "approval"> {
  if (declared === undefined) return {};
  if (declared === "always") return { approval: "always" };
  const matches = schemaValidator(declared.when as JsonObject);
  return { approval: (args) => matches(args).length === 0 };
}

/** A validator for arguments against a JSON Schema: the problems found, empty when they fit. */
export function schemaValidator(schema: JsonObject): (args: JsonObject) => string[] {
  const validator = new Validator(schema as ConstructorParameters<typeof Validator>[0], "2020-12", false);
  return (args) => {
    const result = validator.validate(args);
    if (result.valid) return [];
    // The leaf errors name the field and the rule; the wrapper errors above them only repeat it.
    const leaves = result.errors.filter((error) => error.keyword !== "properties" && error.keyword !== "$ref");
    return (leaves.length > 0 ? leaves : result.errors).map((error) => `${error.instanceLocation || "#"}: ${error.error}`);
  };
}
