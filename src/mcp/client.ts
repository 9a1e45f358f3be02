// A small MCP client over Streamable HTTP, for servers reached by URL or through a service binding
// (the binding's `fetch` is the transport: same protocol, no network). It does what the tool loop
// needs and no more: learn the server's revision once, list tools, call a tool. A server that speaks
// 2026-07-28 is asked `server/discover` and then called statelessly (the envelope in every request's
// `_meta`, the method and name repeated in headers); any other is initialized as before. A server may answer a request with
// JSON or with an SSE stream; either way the answer is the response whose id matches the request.
// Sessions are remembered per isolate, so a warm isolate calls a tool in one round trip; a server
// that forgot the session (404) is initialized again, once.

import { EventSourceParserStream } from "eventsource-parser/stream";
import type { JsonObject } from "../protocol/types.js";
import { isJsonObject } from "../protocol/types.js";
import { META_KEYS, METHOD_HEADER, MODERN_PROTOCOL_VERSION, NAME_HEADER } from "./modern.js";
import type { CallToolResult, JsonRpcId, McpTool } from "./protocol.js";
import { asMessage, isResponse, LATEST_PROTOCOL_VERSION, PROTOCOL_VERSION_HEADER, SESSION_HEADER, SUPPORTED_PROTOCOL_VERSIONS } from "./protocol.js";

/** How tools/list pages are followed before the rest is left out (a server that pages forever). */
const MAX_TOOL_PAGES = 10;
const CLIENT_INFO = { name: "switchboard", version: "0.1.0" };
/** What every 2026-07-28 request says of its client: no capabilities (no tasks: a call is answered inline). */
const MODERN_ENVELOPE = {
  [META_KEYS.protocolVersion]: MODERN_PROTOCOL_VERSION,
  [META_KEYS.clientInfo]: CLIENT_INFO,
  [META_KEYS.clientCapabilities]: {},
};

export interface McpEndpoint {
  /** The server's name in Switchboard (the `<server>` of `<server>__<tool>`). */
  name: string;
  url: string;
  fetch: (input: string, init: RequestInit) => Promise<Response>;
  headers: Record<string, string>;
  /** Called before every HTTP request; false stops the request (a service binding's invocation budget). */
  beforeRequest?: () => boolean;
}

/** Something the server or the way to it did wrong: the message is written for the model and the logs. */
export class McpClientError extends Error {
  constructor(
    message: string,
    readonly kind: "unavailable" | "protocol" | "rpc" | "session_expired" | "budget" = "protocol",
  ) {
    super(message);
    this.name = "McpClientError";
  }
}

interface Session {
  protocolVersion: string;
  sessionId: string | null;
  /** 2026-07-28: no session; every request carries the envelope. */
  modern: boolean;
}

const sessions = new Map<string, Promise<Session>>();

export function clearMcpSessions(): void {
  sessions.clear();
}

let nextId = 1;

export function createMcpClient(endpoint: McpEndpoint) {
  const sessionKey = `${endpoint.name}\n${endpoint.url}`;

  async function post(body: JsonObject, session: Session | null, signal: AbortSignal): Promise<Response> {
    if (endpoint.beforeRequest && !endpoint.beforeRequest()) {
      throw new McpClientError(`Not sent to MCP server ${endpoint.name}: this request has used all its service-binding calls.`, "budget");
    }
    const headers = new Headers({ ...endpoint.headers, "Content-Type": "application/json", Accept: "application/json, text/event-stream" });
    if (session) headers.set(PROTOCOL_VERSION_HEADER, session.protocolVersion);
    if (session?.sessionId) headers.set(SESSION_HEADER, session.sessionId);
    if (session?.modern && typeof body.method === "string") {
      headers.set(METHOD_HEADER, body.method);
      const name = isJsonObject(body.params) ? body.params.name : undefined;
      if (body.method === "tools/call" && typeof name === "string") headers.set(NAME_HEADER, name);
    }
    try {
      return await endpoint.fetch(endpoint.url, { method: "POST", headers, body: JSON.stringify(body), signal });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new McpClientError(`MCP server ${endpoint.name} could not be reached: ${error instanceof Error ? error.message : String(error)}`, "unavailable");
    }
  }

  async function rpc(method: string, params: JsonObject, session: Session | null, signal: AbortSignal): Promise<{ result: JsonObject; response: Response }> {
    const id = nextId++;
    const sent = session?.modern ? { ...params, _meta: { ...(isJsonObject(params._meta) ? params._meta : {}), ...MODERN_ENVELOPE } } : params;
    const response = await post({ jsonrpc: "2.0", id, method, params: sent }, session, signal);
    if (response.status === 404 && session?.sessionId) {
      await response.body?.cancel();
      throw new McpClientError(`MCP server ${endpoint.name} no longer knows the session.`, "session_expired");
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new McpClientError(`MCP server ${endpoint.name} answered ${method} with HTTP ${response.status}.`, "unavailable");
    }
    const message = await readResponse(response, id);
    if (!message) throw new McpClientError(`MCP server ${endpoint.name} answered ${method} without a JSON-RPC response.`);
    if ("error" in message) {
      const error = isJsonObject(message.error) ? message.error : {};
      throw new McpClientError(`MCP server ${endpoint.name} refused ${method}: ${String(error.message ?? "unknown error")}`, "rpc");
    }
    if (!isJsonObject(message.result)) throw new McpClientError(`MCP server ${endpoint.name} answered ${method} with no result object.`);
    return { result: message.result, response };
  }

  /** 2026-07-28 when the server says it speaks it (server/discover); null for a server of an older revision. */
  async function discover(signal: AbortSignal): Promise<Session | null> {
    const modern: Session = { protocolVersion: MODERN_PROTOCOL_VERSION, sessionId: null, modern: true };
    try {
      const { result } = await rpc("server/discover", {}, modern, signal);
      const versions = result.supportedVersions;
      return Array.isArray(versions) && versions.includes(MODERN_PROTOCOL_VERSION) ? modern : null;
    } catch (error) {
      if (signal.aborted || (error instanceof McpClientError && error.kind === "budget")) throw error;
      return null;
    }
  }

  /** `known` is the session that expired: a server known to be of an older revision is not probed again. */
  async function initialize(signal: AbortSignal, known?: Session): Promise<Session> {
    const modern = known && !known.modern ? null : await discover(signal);
    if (modern) return modern;
    const { result, response } = await rpc("initialize", { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: CLIENT_INFO }, null, signal);
    const version = result.protocolVersion;
    if (typeof version !== "string" || !(SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(version)) {
      throw new McpClientError(`MCP server ${endpoint.name} speaks protocol version ${JSON.stringify(version)}, which Switchboard does not.`);
    }
    const session: Session = { protocolVersion: version, sessionId: response.headers.get(SESSION_HEADER), modern: false };
    const initialized = await post({ jsonrpc: "2.0", method: "notifications/initialized" }, session, signal);
    await initialized.body?.cancel();
    if (!initialized.ok) throw new McpClientError(`MCP server ${endpoint.name} refused the initialized notification (HTTP ${initialized.status}).`);
    return session;
  }

  function session(signal: AbortSignal, expired?: Session): Promise<Session> {
    let pending = expired ? undefined : sessions.get(sessionKey);
    if (!pending) {
      pending = initialize(signal, expired);
      sessions.set(sessionKey, pending);
      // A failed handshake is not remembered: the next request tries again.
      pending.catch(() => {
        if (sessions.get(sessionKey) === pending) sessions.delete(sessionKey);
      });
    }
    return pending;
  }

  async function withSession(method: string, params: JsonObject, signal: AbortSignal): Promise<JsonObject> {
    const current = await session(signal);
    try {
      return (await rpc(method, params, current, signal)).result;
    } catch (error) {
      if (!(error instanceof McpClientError && error.kind === "session_expired")) throw error;
      return (await rpc(method, params, await session(signal, current), signal)).result;
    }
  }

  return {
    name: endpoint.name,

    async listTools(signal: AbortSignal): Promise<McpTool[]> {
      const tools: McpTool[] = [];
      let cursor: unknown;
      for (let page = 0; page < MAX_TOOL_PAGES; page++) {
        const result = await withSession("tools/list", typeof cursor === "string" ? { cursor } : {}, signal);
        if (!Array.isArray(result.tools)) throw new McpClientError(`MCP server ${endpoint.name} answered tools/list without a tools array.`);
        tools.push(...(result.tools.filter(isJsonObject) as McpTool[]));
        cursor = result.nextCursor;
        if (typeof cursor !== "string") break;
      }
      return tools;
    },

    async callTool(name: string, args: JsonObject, signal: AbortSignal): Promise<CallToolResult> {
      const result = await withSession("tools/call", { name, arguments: args }, signal);
      if (!Array.isArray(result.content) && !isJsonObject(result.structuredContent)) {
        throw new McpClientError(`MCP server ${endpoint.name} answered tools/call without content.`);
      }
      return { ...result, content: Array.isArray(result.content) ? result.content.filter(isJsonObject) : [] } as CallToolResult;
    },
  };
}

export type McpClient = ReturnType<typeof createMcpClient>;

/** The JSON-RPC response to request `id`, from a JSON body or the first matching event of an SSE stream. */
async function readResponse(response: Response, id: JsonRpcId): Promise<JsonObject | null> {
  const type = response.headers.get("Content-Type") ?? "";
  if (type.includes("text/event-stream")) {
    if (!response.body) return null;
    const reader = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return null;
        // Server notifications (progress, logs) and requests share the stream; only our answer counts.
        const match = matching(parseJson(value.data), id);
        if (match) return match;
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }
  return matching(parseJson(await response.text()), id);
}

function matching(value: unknown, id: JsonRpcId): JsonObject | null {
  for (const candidate of Array.isArray(value) ? value : [value]) {
    const message = asMessage(candidate);
    if (message && isResponse(message) && message.id === id) return message;
  }
  return null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
