// The tool kit: a tool is declared once (name, description, zod parameters, run) and the kit turns
// it into a Worker with `GET /schema` and `POST /invoke`. Tool Workers import this and nothing of
// the orchestrator, so each one bundles and deploys on its own.

import { Hono } from "hono";
import * as z from "zod";
import type { ToolFetch } from "./fetch.js";
import { OriginNotAllowedError, originFetch } from "./fetch.js";
import type {
  ForgetRequest,
  ForgetResponse,
  JsonSchema,
  ToolCallContext,
  ToolErrorType,
  ToolInvokeFailure,
  ToolInvokeSuccess,
  ToolSchemaResponse,
} from "./protocol.js";

import { TOOL_NAME_PATTERN } from "./protocol.js";

export type { ToolFetch } from "./fetch.js";
export { OriginNotAllowedError, originFetch } from "./fetch.js";
export type * from "./protocol.js";
export { TOOL_NAME_PATTERN };

export interface ToolDeclaration<Parameters extends z.ZodObject, Env> {
  /** The function name the model calls: letters, digits, `_` and `-`, at most 64 characters. */
  name: string;
  description: string;
  parameters: Parameters;
  /** Declare true when a call changes state; the orchestrator then passes an idempotency key. */
  sideEffects?: boolean;
  /**
   * Calls that wait for a person's approval before they run: `true` for every call, or a schema the
   * arguments are matched against (`z.object({ action: z.literal("delete") })`: only deletes). The
   * schema travels as JSON Schema, so the orchestrator decides without calling the tool.
   */
  needsApproval?: boolean | z.ZodType;
  /**
   * The URLs (from the tool's configuration) whose origins `context.fetch` may reach; every other
   * host is refused, redirects included. Without it, `context.fetch` reaches nothing.
   */
  origins?: (env: Env) => ReadonlyArray<string | undefined>;
  /**
   * A tool that keeps data per conversation says how it deletes one conversation's data; the
   * orchestrator calls it (through `POST /forget`) when that conversation is deleted.
   */
  forget?: (scope: ForgetRequest, env: Env) => Promise<ForgetResponse>;
  run(args: z.output<Parameters>, env: Env, context: ToolRunContext): unknown;
}

/** What a tool's `run` receives: who is calling, and the only fetch it should use. */
export interface ToolRunContext extends ToolCallContext {
  fetch: ToolFetch;
}

export interface Tool<Env> {
  readonly name: string;
  readonly definition: Omit<ToolSchemaResponse, "metadata"> & {
    metadata: Omit<ToolSchemaResponse["metadata"], "version">;
  };
  /** Validates raw arguments and runs the tool; failures come back as a ToolError. */
  invoke(rawArguments: unknown, env: Env, context: ToolCallContext): Promise<unknown>;
  forget?: (scope: ForgetRequest, env: Env) => Promise<ForgetResponse>;
}

/** An expected failure with a status and a message meant for the model to read. */
export class ToolError extends Error {
  readonly status: 400 | 404 | 409 | 422 | 500 | 502 | 504;
  readonly type: ToolErrorType;
  readonly code: string | null;

  constructor(message: string, options: { status?: ToolError["status"]; type?: ToolErrorType; code?: string | null } = {}) {
    super(message);
    this.name = "ToolError";
    this.status = options.status ?? 422;
    this.type = options.type ?? "tool_error";
    this.code = options.code ?? null;
  }
}

export function defineTool<Parameters extends z.ZodObject, Env = unknown>(declaration: ToolDeclaration<Parameters, Env>): Tool<Env> {
  if (!TOOL_NAME_PATTERN.test(declaration.name)) {
    throw new Error(`Tool name "${declaration.name}" must match ${TOOL_NAME_PATTERN}`);
  }
  const parameters = toParametersSchema(declaration.parameters);
  return {
    name: declaration.name,
    definition: {
      type: "function",
      function: { name: declaration.name, description: declaration.description, parameters },
      metadata: {
        side_effects: declaration.sideEffects ?? false,
        ...(declaration.forget ? { forgets_conversations: true } : {}),
        ...approvalMetadata(declaration.needsApproval),
      },
    },
    ...(declaration.forget ? { forget: declaration.forget } : {}),
    async invoke(rawArguments, env, context) {
      const parsed = declaration.parameters.safeParse(rawArguments);
      if (!parsed.success) {
        throw new ToolError(`Invalid arguments for ${declaration.name}: ${z.prettifyError(parsed.error)}`, {
          status: 400,
          type: "invalid_arguments",
        });
      }
      return declaration.run(parsed.data, env, { ...context, fetch: originFetch(declaration.origins?.(env) ?? []) });
    },
  };
}

function approvalMetadata(needs: ToolDeclaration<z.ZodObject, unknown>["needsApproval"]): Pick<ToolSchemaResponse["metadata"], "approval"> {
  if (needs === undefined || needs === false) return {};
  if (needs === true) return { approval: "always" };
  const { $schema: _dialect, ...when } = z.toJSONSchema(needs, { io: "input" }) as JsonSchema;
  return { approval: { when } };
}

/** The JSON Schema the model sees: the input side of the zod schema (defaults make fields optional). */
function toParametersSchema(schema: z.ZodObject): JsonSchema {
  const { $schema: _dialect, ...parameters } = z.toJSONSchema(schema, { io: "input" }) as JsonSchema;
  return parameters;
}

const contextSchema = z.object({
  conversation_id: z.string().nullable().default(null),
  tool_call_id: z.string().default(""),
  request_id: z.string().default(""),
  tenant: z.string().default("default"),
  idempotency_key: z.string().default(""),
  turn_id: z.string().optional(),
  traceparent: z.string().optional(),
});

const invokeSchema = z.object({
  arguments: z.unknown(),
  context: contextSchema.default({
    conversation_id: null,
    tool_call_id: "",
    request_id: "",
    tenant: "default",
    idempotency_key: "",
  }),
});

const forgetSchema = z.object({ tenant: z.string().min(1), conversation_id: z.string().min(1).max(256) });

function failure(type: ToolErrorType, message: string, code: string | null = null): ToolInvokeFailure {
  return { error: { type, message, code } };
}

/** Makes a tool a Worker: `export default toolWorker(myTool)`. */
export function toolWorker<Env extends object>(tool: Tool<Env>): ExportedHandler<Env> & { app: Hono<{ Bindings: Env }> } {
  const app = new Hono<{ Bindings: Env }>();
  let schema: Promise<ToolSchemaResponse> | undefined;

  app.get("/schema", async (c) => {
    schema ??= withVersion(tool);
    const body = await schema;
    return c.json(body, 200, { ETag: `"${body.metadata.version}"`, "Cache-Control": "no-cache" });
  });

  app.post("/invoke", async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json(failure("invalid_request", "The /invoke body must be JSON."), 400);
    }
    const request = invokeSchema.safeParse(body);
    if (!request.success) {
      return c.json(failure("invalid_request", z.prettifyError(request.error)), 400);
    }
    const { arguments: rawArguments, context } = request.data;
    const started = Date.now();
    // One line per call under the orchestrator's trace id, so a turn's trace can be followed into this Worker.
    const logCall = (outcome: string) =>
      logLine({
        event: "tool_invoke",
        tool: tool.name,
        ...traceFields(context.traceparent),
        request_id: context.request_id,
        outcome,
        duration_ms: Date.now() - started,
      });
    try {
      const result = await tool.invoke(rawArguments, c.env, context);
      const success: ToolInvokeSuccess = { result: result ?? null };
      logCall("ok");
      return c.json(success, 200);
    } catch (error) {
      logCall(error instanceof ToolError ? error.type : "internal_error");
      if (error instanceof ToolError) {
        return c.json(failure(error.type, error.message, error.code), error.status);
      }
      if (error instanceof OriginNotAllowedError) {
        return c.json(failure("upstream_error", error.message, "origin_not_allowed"), 502);
      }
      // Unexpected failures still reach the model as data; the message, never the stack.
      const message = error instanceof Error ? error.message : String(error);
      return c.json(failure("internal_error", `${tool.name} failed: ${message}`), 500);
    }
  });

  app.post("/forget", async (c) => {
    if (!tool.forget) return c.json(failure("not_found", `${tool.name} keeps nothing per conversation.`), 404);
    const scope = forgetSchema.safeParse(await c.req.json().catch(() => null));
    if (!scope.success) return c.json(failure("invalid_request", z.prettifyError(scope.error)), 400);
    const answer: ForgetResponse = await tool.forget(scope.data, c.env);
    return c.json(answer, 200);
  });

  app.notFound((c) => c.json(failure("not_found", `No route ${c.req.method} ${new URL(c.req.url).pathname}`), 404));
  app.onError((_error, c) => c.json(failure("internal_error", "The tool Worker failed unexpectedly."), 500));

  return { fetch: app.fetch, app };
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}/;

/** The trace id and the orchestrator's span (this call's parent) from a W3C traceparent. */
function traceFields(traceparent: string | undefined): { trace_id?: string; parent_span_id?: string } {
  const match = TRACEPARENT.exec(traceparent ?? "");
  return match?.[1] && match[2] ? { trace_id: match[1], parent_span_id: match[2] } : {};
}

function logLine(fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ level: "info", time: new Date().toISOString(), ...fields }));
}

async function withVersion<Env>(tool: Tool<Env>): Promise<ToolSchemaResponse> {
  const canonical = JSON.stringify(tool.definition);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical));
  const version = [...new Uint8Array(digest).slice(0, 8)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return { ...tool.definition, metadata: { ...tool.definition.metadata, version } };
}
