// MCP 2026-07-28 on POST /mcp, beside the revisions before it: stateless (no `initialize`; every
// request carries its protocol version, client info and capabilities in `params._meta`), headers that
// repeat the method and the name the body holds (checked, so a proxy can route on them), cache hints
// on list results, `resultType` on every result, and the Tasks extension: a `tools/call` from a client
// that declares it may answer with a task handle, polled with `tasks/get` and stopped with
// `tasks/cancel`; the task is a run on the durable engine (src/runs). Hand-written on the same JSON-RPC
// layer as the older revisions: the official v2 server SDK adds about 90 KiB gzip and has no Tasks
// runtime of its own (the tests drive this with its v2 client and its Tasks client).

import type { JsonObject } from "../protocol/types.js";
import { isJsonObject } from "../protocol/types.js";
import type { RunState } from "../runs/types.js";
import type { JsonRpcRequest, JsonRpcResponse } from "./protocol.js";
import { JSONRPC_ERRORS, rpcError, rpcResult } from "./protocol.js";
import type { McpServerOptions } from "./server.js";
import { answerMcpRequest, SERVER_INFO, toCallToolResult } from "./server.js";

export const MODERN_PROTOCOL_VERSION = "2026-07-28";
export const META_KEYS = {
  protocolVersion: "io.modelcontextprotocol/protocolVersion",
  clientInfo: "io.modelcontextprotocol/clientInfo",
  clientCapabilities: "io.modelcontextprotocol/clientCapabilities",
  serverInfo: "io.modelcontextprotocol/serverInfo",
} as const;
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";
export const METHOD_HEADER = "Mcp-Method";
export const NAME_HEADER = "Mcp-Name";
/** The error codes 2026-07-28 adds. */
export const MODERN_ERRORS = { headerMismatch: -32020, missingCapability: -32021, unsupportedVersion: -32022 } as const;
/** How often a client should poll a task. */
export const TASK_POLL_INTERVAL_MS = 500;

/** The methods whose `Mcp-Name` header must repeat a field of the body, and which field. */
const NAMED: Record<string, string> = { "tools/call": "name", "tasks/get": "taskId", "tasks/update": "taskId", "tasks/cancel": "taskId" };

/** A request speaks 2026-07-28 (or a later revision) when its `_meta` names its protocol version. */
export function isModernRequest(request: JsonRpcRequest): boolean {
  const meta = request.params?._meta;
  return isJsonObject(meta) && META_KEYS.protocolVersion in meta;
}

export interface TaskPort {
  /** Starts the call as a task: a run in the home of the conversation the call works in. */
  start(request: JsonRpcRequest, tool: string, args: JsonObject): Promise<RunState>;
  get(taskId: string): Promise<RunState | null>;
  cancel(taskId: string): Promise<boolean>;
}

export interface ModernOptions extends McpServerOptions {
  header: (name: string) => string | undefined;
  tasks: TaskPort;
  /** How long a client may cache the tool list (the registry's own schema cache). */
  toolListTtlMs: number;
}

/** The answer and the HTTP status it travels with (2026-07-28 maps protocol errors to 400 and 404). */
export interface ModernAnswer {
  status: 200 | 400 | 404;
  response: JsonRpcResponse;
}

export async function answerModernRequest(request: JsonRpcRequest, options: ModernOptions): Promise<ModernAnswer> {
  const refusal = checkEnvelope(request, options.header);
  if (refusal) return refusal;
  const params = request.params ?? {};
  const tasksDeclared = declaresTasks(params);
  switch (request.method) {
    case "server/discover":
      return complete(request, {
        supportedVersions: [MODERN_PROTOCOL_VERSION],
        capabilities: { tools: { listChanged: false }, extensions: { [TASKS_EXTENSION]: {} } },
        serverInfo: SERVER_INFO,
        ttlMs: 0,
        cacheScope: "private",
      });
    case "tools/list": {
      const answer = await answerMcpRequest(request, options);
      // The list depends on the caller's tenant and allowlist: private to it.
      return "result" in answer
        ? complete(request, { ...answer.result, ttlMs: options.toolListTtlMs, cacheScope: "private" })
        : { status: 200, response: answer };
    }
    case "tools/call":
      return tasksDeclared ? callAsTask(request, params, options) : answerDirectly(request, options);
    case "tasks/get":
    case "tasks/cancel":
    case "tasks/update":
      if (!tasksDeclared) return missingTasksCapability(request);
      return answerTaskMethod(request, params, options);
    default:
      return {
        status: 404,
        response: rpcError(request.id, JSONRPC_ERRORS.methodNotFound, `Method not found in ${MODERN_PROTOCOL_VERSION}: ${request.method}`),
      };
  }
}

/** The version, the headers that repeat the body, and the capabilities every request must carry. */
function checkEnvelope(request: JsonRpcRequest, header: (name: string) => string | undefined): ModernAnswer | null {
  const meta = request.params?._meta as JsonObject;
  const version = meta[META_KEYS.protocolVersion];
  if (version !== MODERN_PROTOCOL_VERSION) {
    return refuse(request, MODERN_ERRORS.unsupportedVersion, `Unsupported protocol version: ${String(version)}.`, {
      supported: [MODERN_PROTOCOL_VERSION],
      requested: version ?? null,
    });
  }
  const mismatch = (name: string, expected: string | undefined) => {
    const sent = header(name);
    return sent === expected
      ? null
      : refuse(request, MODERN_ERRORS.headerMismatch, `The ${name} header does not match the request body.`, {
          mismatch: { header: sent ?? null, body: expected ?? null },
        });
  };
  const field = NAMED[request.method];
  const named = field === undefined ? undefined : request.params?.[field];
  const problem =
    mismatch("MCP-Protocol-Version", MODERN_PROTOCOL_VERSION) ??
    mismatch(METHOD_HEADER, request.method) ??
    (field === undefined ? null : mismatch(NAME_HEADER, typeof named === "string" ? named : undefined));
  if (problem) return problem;
  if (!isJsonObject(meta[META_KEYS.clientCapabilities])) {
    return refuse(request, JSONRPC_ERRORS.invalidParams, `params._meta["${META_KEYS.clientCapabilities}"] must be an object ({} for none).`);
  }
  return null;
}

function declaresTasks(params: JsonObject): boolean {
  const capabilities = (params._meta as JsonObject)[META_KEYS.clientCapabilities];
  const extensions = isJsonObject(capabilities) ? capabilities.extensions : undefined;
  return isJsonObject(extensions) && TASKS_EXTENSION in extensions;
}

async function answerDirectly(request: JsonRpcRequest, options: ModernOptions): Promise<ModernAnswer> {
  const answer = await answerMcpRequest(request, options);
  return "result" in answer ? complete(request, answer.result) : { status: 200, response: answer };
}

/**
 * A client that takes tasks gets a task handle at once for every call: the call runs once, as a run
 * in its conversation's home, whether or not the client stays to poll it.
 */
async function callAsTask(request: JsonRpcRequest, params: JsonObject, options: ModernOptions): Promise<ModernAnswer> {
  const name = params.name;
  const args = params.arguments ?? {};
  if (typeof name !== "string") return refuse(request, JSONRPC_ERRORS.invalidParams, "tools/call needs params.name.");
  if (!isJsonObject(args)) return refuse(request, JSONRPC_ERRORS.invalidParams, "tools/call params.arguments must be an object.");
  const tool = (await options.tools()).find((candidate) => candidate.name === name);
  if (!tool) return refuse(request, JSONRPC_ERRORS.invalidParams, `Unknown tool: ${name}`);
  // A call that waits for a person is answered at once with its approval, not made a task that would run it.
  const held = tool.validate(args).length === 0 ? await options.gate?.(tool, args) : null;
  if (held) return complete(request, toCallToolResult(held, options.limits.maxToolOutputChars) as unknown as JsonObject);
  return complete(request, taskOf(await options.tasks.start(request, name, args)), "task");
}

async function answerTaskMethod(request: JsonRpcRequest, params: JsonObject, options: ModernOptions): Promise<ModernAnswer> {
  const taskId = params.taskId;
  if (typeof taskId !== "string") return refuse(request, JSONRPC_ERRORS.invalidParams, `${request.method} needs params.taskId.`);
  const run = await options.tasks.get(taskId);
  if (run?.door.kind !== "mcp_task") return refuse(request, JSONRPC_ERRORS.invalidParams, `Unknown task: ${taskId}`);
  if (request.method === "tasks/get") return complete(request, taskOf(run));
  if (request.method === "tasks/update") return refuse(request, JSONRPC_ERRORS.invalidParams, `Task ${taskId} does not wait for input.`);
  await options.tasks.cancel(taskId);
  return complete(request, {});
}

/** A task as 2026-07-28's Tasks extension shows it: `working` until its run ends, then its result or error. */
export function taskOf(run: RunState): JsonObject {
  const task: JsonObject = {
    taskId: run.id,
    status: "working",
    createdAt: new Date(run.createdAt).toISOString(),
    lastUpdatedAt: new Date(run.updatedAt).toISOString(),
    ttlMs: 86_400_000,
    pollIntervalMs: TASK_POLL_INTERVAL_MS,
  };
  const end = run.terminal;
  if (run.status === "cancelled") return { ...task, status: "cancelled" };
  if (end?.type === "tool_completed") return { ...task, status: "completed", result: { ...end.result, resultType: "complete" } };
  if (end?.type === "failed") return { ...task, status: "failed", error: { code: JSONRPC_ERRORS.internalError, message: end.failure.body.error.message } };
  return task;
}

function complete(request: JsonRpcRequest, result: JsonObject, resultType: "complete" | "task" = "complete"): ModernAnswer {
  const meta = isJsonObject(result._meta) ? result._meta : {};
  return { status: 200, response: rpcResult(request.id, { ...result, resultType, _meta: { ...meta, [META_KEYS.serverInfo]: SERVER_INFO } }) };
}

function refuse(request: JsonRpcRequest, code: number, message: string, data?: JsonObject): ModernAnswer {
  const response = rpcError(request.id, code, message);
  if (data !== undefined && "error" in response) response.error.data = data;
  return { status: 400, response };
}

function missingTasksCapability(request: JsonRpcRequest): ModernAnswer {
  return refuse(request, MODERN_ERRORS.missingCapability, `${request.method} needs the ${TASKS_EXTENSION} extension in the client's capabilities.`, {
    requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } },
  });
}
