// POST /mcp: the server tools as an MCP server, over MCP's Streamable HTTP transport, stateless (no
// session: every request stands alone, so any isolate anywhere can answer it). The answer is JSON,
// or an SSE stream when the client accepts only that. Same Bearer keys and tenants as every route;
// browsers' Origin is checked first, as the transport requires against DNS rebinding.

import type { Context } from "hono";
import { Hono } from "hono";
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { streamSSE } from "hono/streaming";
import { APPROVAL_PREFIX } from "../approvals/park.js";
import { approvalPolicy } from "../approvals/policy.js";
import type { Approval } from "../approvals/types.js";
import { ApiError, invalidRequest } from "../errors.js";
import { sha256Hex } from "../lib/hash.js";
import { randomToken } from "../lib/ids.js";
import type { ModernAnswer, TaskPort } from "../mcp/modern.js";
import { answerModernRequest, isModernRequest, METHOD_HEADER, MODERN_PROTOCOL_VERSION, NAME_HEADER } from "../mcp/modern.js";
import type { JsonRpcRequest } from "../mcp/protocol.js";
import {
  asMessage,
  DEFAULT_PROTOCOL_VERSION,
  isRequest,
  JSONRPC_ERRORS,
  PROTOCOL_VERSION_HEADER,
  rpcError,
  SESSION_HEADER,
  SUPPORTED_PROTOCOL_VERSIONS,
} from "../mcp/protocol.js";
import type { McpServerOptions } from "../mcp/server.js";
import { answerMcpRequest } from "../mcp/server.js";
import { requireApiKey } from "../middleware/auth/index.js";
import { limitBody } from "../middleware/body-limit/index.js";
import { chatRequestSchema } from "../protocol/request-schema.js";
import { SERVER_LABEL } from "../protocol/responses/output.js";
import type { JsonObject } from "../protocol/types.js";
import { toolsForRequest } from "../run-turn.js";
import type { ServerTool } from "../tools/registry.js";
import type { AppEnv } from "../types.js";
import { CONVERSATION_HEADER } from "./chat-completions.js";

/** `?server_tools=calculate,notes`: the tools this connection may use, as `server_tools` is for chat. */
export const MCP_TOOLS_PARAMETER = "server_tools";
/** A task's run may outlive its tool's timeout by this much (discovery, a restart) before it is ended. */
const TASK_DEADLINE_MARGIN_MS = 30_000;
/** MCP clients keep no conversation: calls without X-Conversation-Id share this one per tenant (the notes tool keeps its notes there). */
export const MCP_DEFAULT_CONVERSATION = "mcp";

export const mcp = new Hono<AppEnv>();

function originAllowed(c: Context<AppEnv>, origin: string): boolean {
  return origin === new URL(c.req.url).origin || c.get("config").mcpAllowedOrigins.includes(origin);
}

const checkOrigin = createMiddleware<AppEnv>(async (c, next) => {
  const origin = c.req.header("Origin");
  if (origin !== undefined && !originAllowed(c, origin)) {
    throw new ApiError(403, `Origin ${origin} may not call /mcp; allow it with MCP_ALLOWED_ORIGINS.`, { code: "origin_not_allowed" });
  }
  await next();
});

mcp.use(
  "/mcp",
  checkOrigin,
  // Browser-based clients (the MCP Inspector in direct mode) preflight before sending the key.
  cors({
    origin: (origin, c) => (originAllowed(c as Context<AppEnv>, origin) ? origin : null),
    allowMethods: ["POST", "OPTIONS"],
    allowHeaders: [
      "Authorization",
      "Content-Type",
      "Accept",
      PROTOCOL_VERSION_HEADER,
      SESSION_HEADER,
      CONVERSATION_HEADER,
      "Last-Event-ID",
      METHOD_HEADER,
      NAME_HEADER,
    ],
    exposeHeaders: [SESSION_HEADER, "X-Request-Id"],
  }),
  limitBody,
  requireApiKey,
);

mcp.post("/mcp", async (c) => {
  checkHeaders(c);
  const body = parseJson(await c.req.text());
  if (body === undefined) return c.json(rpcError(null, JSONRPC_ERRORS.parseError, "The body is not JSON."), 400);
  const messages = Array.isArray(body) ? body : [body];
  const parsed = messages.map(asMessage);
  if (messages.length === 0 || parsed.some((message) => message === null)) {
    return c.json(rpcError(null, JSONRPC_ERRORS.invalidRequest, "Not a JSON-RPC 2.0 message."), 400);
  }
  const requests = parsed.filter((message) => message !== null && isRequest(message)) as unknown as JsonRpcRequest[];
  // Notifications and responses need no answer.
  if (requests.length === 0) return c.body(null, 202);

  const modern = requests.some(isModernRequest);
  // An older revision names its version in the header alone; 2026-07-28 in every request's _meta.
  if (!modern) checkLegacyVersion(c);
  const answer = answerer(c);
  const answers = await Promise.all(requests.map(answer));
  const responses = answers.map(({ response }) => response);
  // A single 2026-07-28 request's protocol errors travel with their HTTP status (400, 404).
  const status = Array.isArray(body) ? 200 : (answers[0]?.status ?? 200);
  if (!prefersSse(c.req.header("Accept"))) return c.json(Array.isArray(body) ? responses : responses[0], status);
  c.status(status);
  return streamSSE(c, async (stream) => {
    for (const response of responses) await stream.writeSSE({ event: "message", data: JSON.stringify(response) });
  });
});

// Stateless: there is no stream to resume and no session to end.
mcp.on(["GET", "DELETE"], "/mcp", (c) => {
  c.header("Allow", "POST");
  return c.json(rpcError(null, JSONRPC_ERRORS.invalidRequest, `${c.req.method} is not supported: this server is stateless; POST each request.`), 405);
});

function answerer(c: Context<AppEnv>): (request: JsonRpcRequest) => Promise<ModernAnswer> {
  const config = c.get("config");
  const tenant = c.get("tenant");
  const requestId = c.get("requestId");
  const log = c.get("log");
  const conversationId = conversationFor(c);
  const allowed = requestAllowlist(c);
  const { registry, runs, approvals } = c.get("services");
  const needsApproval = approvalPolicy(config, undefined);
  let tools: Promise<ServerTool[]> | undefined;
  const context = (id: JsonRpcRequest["id"]) => ({
    conversation_id: conversationId,
    // For logs only: X-Request-Id and the JSON-RPC id are the client's to choose, so two clients
    // can send the same pair.
    tool_call_id: `mcp_${requestId}_${String(id)}`,
    request_id: requestId,
    tenant,
    // A tools/call has no Switchboard turn around it to re-run, so it runs once per request: its
    // key is minted here, never built from client-chosen values (a shared one would hand one
    // client's side effect, e.g. a saved note, to another as "already done").
    idempotency_key: mcpIdempotencyKey(tenant),
  });
  const options: McpServerOptions = {
    tools: () => {
      tools ??= registry.list().then((found) => toolsForRequest(found, config, tenant, allowed));
      return tools;
    },
    registry,
    limits: config.limits,
    context,
    signal: c.req.raw.signal,
    onToolResult: ({ tool, outcome, durationMs }) =>
      log.info("mcp_tool_call", { tool, duration_ms: durationMs, ok: outcome.ok, ...(outcome.ok ? {} : { error_type: outcome.type }) }),
    gate: async (tool, args) => {
      if (!needsApproval(tool, args)) return null;
      const request = await callApproval(c, tool, args, conversationId);
      const gated = await approvals.gateCall(tenant, conversationId, request);
      if (gated.status === "run") return null;
      if (gated.status === "gone") return { ok: false, type: "conversation_not_found", message: `Not run: conversation ${conversationId} was deleted.` };
      const { id } = gated.approval;
      if (gated.status === "denied") {
        const why = gated.approval.reason ? `: ${gated.approval.reason}` : ".";
        return { ok: false, type: "approval_denied", message: `Not run: a person denied this call of ${tool.name} (approval ${id})${why}` };
      }
      return {
        ok: false,
        type: "approval_required",
        message: `${tool.name} waits for a person's approval before it runs: approval ${id} is pending. Decide it with POST /v1/approvals/${id}, then call the tool again with the same arguments.`,
      };
    },
  };
  const tasks: TaskPort = {
    async start(request, tool, args) {
      const id = runs.taskId(tenant, conversationId);
      const createdAt = Date.now();
      await runs.launch({
        id,
        background: true,
        createdAt,
        door: {
          kind: "mcp_task",
          tool,
          arguments: args,
          context: context(request.id),
          timeoutMs: config.limits.toolTimeoutMs,
          maxOutputChars: config.limits.maxToolOutputChars,
        },
        turn: {
          tenant,
          conversationId,
          requestId,
          input: [],
          parameters: { model: "" },
          clientTools: [],
          deadlineMs: config.limits.toolTimeoutMs + TASK_DEADLINE_MARGIN_MS,
        },
      });
      log.info("mcp_task_started", { task_id: id, tool });
      return (
        (await runs.task(tenant, id)) ?? {
          id,
          status: "queued",
          background: true,
          tenant,
          conversationId,
          door: { kind: "mcp_task", tool, arguments: args, context: context(request.id), timeoutMs: 0, maxOutputChars: 0 },
          createdAt,
          updatedAt: createdAt,
          terminal: null,
        }
      );
    },
    get: (taskId) => runs.task(tenant, taskId),
    cancel: async (taskId) => (await runs.cancelTask(tenant, taskId))?.status === "cancelled",
  };
  const fail =
    (request: JsonRpcRequest) =>
    (error: unknown): ModernAnswer => {
      log.error("mcp_request_failed", { method: request.method, message: error instanceof Error ? error.message : String(error) });
      return { status: 200, response: rpcError(request.id, JSONRPC_ERRORS.internalError, "The request failed unexpectedly.") };
    };
  return (request) =>
    isModernRequest(request)
      ? answerModernRequest(request, { ...options, header: (name) => c.req.header(name), tasks, toolListTtlMs: config.toolSchemaTtlMs }).catch(fail(request))
      : answerMcpRequest(request, options).then((response): ModernAnswer => ({ status: 200, response }), fail(request));
}

/** The approval an MCP client's call waits on, should it have none yet (the home decides). */
async function callApproval(c: Context<AppEnv>, tool: ServerTool, args: JsonObject, conversationId: string): Promise<Approval> {
  const tenant = c.get("tenant");
  const text = JSON.stringify(args);
  const now = Date.now();
  return {
    id: `${APPROVAL_PREFIX}_${c.get("services").homes.responseToken(tenant, conversationId)}`,
    object: "approval",
    kind: "mcp_call",
    status: "pending",
    conversation_id: conversationId,
    turn_id: c.get("requestId"),
    tool_call_id: `mcp_${c.get("requestId")}`,
    tool: tool.name,
    server_label: tool.mcp?.server ?? SERVER_LABEL,
    name: tool.mcp?.tool ?? tool.name,
    arguments: text,
    arguments_sha256: await sha256Hex(text),
    requested_by: { tenant, request_id: c.get("requestId"), door: "mcp" },
    created_at: now,
    expires_at: now + c.get("config").approvals.ttlSeconds * 1000,
    decided_at: null,
    reason: null,
    continuation: null,
    used_at: null,
  };
}

/** The authenticated tenant and a server-minted random id: unique to one tools/call, whatever the client sent. */
function mcpIdempotencyKey(tenant: string): string {
  return `${tenant}:mcp:${randomToken(32)}`;
}

function checkLegacyVersion(c: Context<AppEnv>): void {
  const version = c.req.header(PROTOCOL_VERSION_HEADER) ?? DEFAULT_PROTOCOL_VERSION;
  if (!(SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(version)) {
    throw invalidRequest(
      `Unsupported ${PROTOCOL_VERSION_HEADER} ${version}; supported: ${[MODERN_PROTOCOL_VERSION, ...SUPPORTED_PROTOCOL_VERSIONS].join(", ")}.`,
      PROTOCOL_VERSION_HEADER,
    );
  }
}

function checkHeaders(c: Context<AppEnv>): void {
  const accept = c.req.header("Accept");
  if (accept && !/application\/json|text\/event-stream|\*\/\*/i.test(accept)) {
    throw new ApiError(406, "Accept must allow application/json or text/event-stream.", { code: "not_acceptable" });
  }
  if (!/^application\/json\b/i.test(c.req.header("Content-Type") ?? "")) {
    throw new ApiError(415, "Content-Type must be application/json.", { code: "unsupported_media_type" });
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** JSON whenever the client takes it; SSE only for a client that asked for nothing else. */
function prefersSse(accept: string | undefined): boolean {
  return accept !== undefined && /text\/event-stream/i.test(accept) && !/application\/json|\*\/\*/i.test(accept);
}

function conversationFor(c: Context<AppEnv>): string {
  const header = c.req.header(CONVERSATION_HEADER)?.trim();
  if (header === undefined || header === "") return MCP_DEFAULT_CONVERSATION;
  if (!chatRequestSchema.shape.conversation_id.safeParse(header).success) {
    throw invalidRequest(`${CONVERSATION_HEADER} must be 1-128 of A-Z a-z 0-9 _ . : -`, CONVERSATION_HEADER);
  }
  return header;
}

function requestAllowlist(c: Context<AppEnv>): string[] | undefined {
  const raw = c.req.query(MCP_TOOLS_PARAMETER);
  if (raw === undefined) return undefined;
  return raw
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
}
