import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ToolCallContext } from "../../kit/protocol.js";
import { readConfig } from "../../src/config.js";
import type { Env } from "../../src/env.js";
import { clearMcpSessions } from "../../src/mcp/client.js";
import { toCallToolResult } from "../../src/mcp/server.js";
import { parseMcpServers } from "../../src/mcp/servers-config.js";
import type { JsonObject } from "../../src/protocol/types.js";
import { InvocationBudget } from "../../src/tools/invocation-budget.js";
import { clearMcpToolCache, qualifiedToolName, toOutcome } from "../../src/tools/mcp-tools.js";
import { clearToolSchemaCache } from "../../src/tools/registry.js";
import { createServerToolRegistry } from "../../src/tools/server-tools.js";

const context: ToolCallContext = { conversation_id: "c", tool_call_id: "t", request_id: "r", tenant: "a", idempotency_key: "a:c:t" };

/** An MCP server behind a fake service binding, answering JSON-RPC with JSON; counts requests by method. */
function fakeMcpBinding(tools: JsonObject[], options: { forgetSessions?: boolean } = {}) {
  const methods: string[] = [];
  let sessions = 0;
  let known = new Set<string>();
  const fetcher = {
    async fetch(_url: string, init: RequestInit): Promise<Response> {
      const message = JSON.parse(String(init.body)) as { id?: number; method: string; params?: JsonObject };
      methods.push(message.method);
      const session = new Headers(init.headers).get("Mcp-Session-Id");
      if (message.method === "initialize") {
        const id = `s${++sessions}`;
        known.add(id);
        return Response.json(
          { jsonrpc: "2.0", id: message.id, result: { protocolVersion: "2025-06-18", capabilities: {}, serverInfo: { name: "fake" } } },
          { headers: { "Mcp-Session-Id": id } },
        );
      }
      if (session === null || !known.has(session)) return new Response("unknown session", { status: 404 });
      if (message.id === undefined) return new Response(null, { status: 202 });
      if (message.method === "tools/list") return Response.json({ jsonrpc: "2.0", id: message.id, result: { tools } });
      const result = { content: [{ type: "text", text: `called ${String(message.params?.name)}` }] };
      if (options.forgetSessions) known = new Set();
      return Response.json({ jsonrpc: "2.0", id: message.id, result });
    },
  };
  return { fetcher: fetcher as unknown as Fetcher, methods };
}

function workerBinding(name: string) {
  return {
    fetch: async () =>
      Response.json({ type: "function", function: { name, description: "", parameters: { type: "object", properties: {} } }, metadata: { version: "1" } }),
  } as unknown as Fetcher;
}

function registry(env: Record<string, unknown>) {
  const config = readConfig(env as unknown as Env);
  return createServerToolRegistry({ env, config, budget: new InvocationBudget(31) });
}

const objectSchema = { type: "object", properties: { n: { type: "integer" } }, required: ["n"] };

let warnings: string[] = [];

beforeEach(() => {
  warnings = [];
  clearToolSchemaCache();
  clearMcpToolCache();
  clearMcpSessions();
  vi.spyOn(console, "warn").mockImplementation((line: unknown) => {
    warnings.push(String(line));
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("MCP tool names", () => {
  it("joins server and tool with __ and makes the result a valid function name", () => {
    expect(qualifiedToolName("github", "create_issue")).toBe("github__create_issue");
    expect(qualifiedToolName("fs", "files/read.v2")).toBe("fs__files_read_v2");
    const long = qualifiedToolName("server", "x".repeat(100));
    expect(long).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(long).not.toBe(qualifiedToolName("server", `${"x".repeat(99)}y`));
  });

  it("keeps a tool Worker's name on a clash and leaves the MCP tool out with a warning", async () => {
    const mcp = fakeMcpBinding([
      { name: "time", inputSchema: { type: "object" } },
      { name: "other", inputSchema: { type: "object" } },
    ]);
    const tools = await registry({ TOOL_CLOCK: workerBinding("clock__time"), MCP_CLOCK: mcp.fetcher }).list();
    expect(tools.map((tool) => [tool.name, tool.mcp?.server ?? "worker"])).toEqual([
      ["clock__time", "worker"],
      ["clock__other", "clock"],
    ]);
    expect(warnings.join("\n")).toContain("mcp_tool_skipped");
  });

  it("leaves out tools whose inputSchema is not an object schema", async () => {
    const mcp = fakeMcpBinding([
      { name: "good", inputSchema: objectSchema },
      { name: "bad", inputSchema: { type: "string" } },
    ]);
    expect((await registry({ MCP_X: mcp.fetcher }).list()).map((tool) => tool.name)).toEqual(["x__good"]);
  });
});

describe("MCP servers over bindings", () => {
  it("discovers once per isolate, validates with the inputSchema, and calls with the session it was given", async () => {
    const mcp = fakeMcpBinding([{ name: "count", description: "Counts.", inputSchema: objectSchema, annotations: { readOnlyHint: true } }]);
    const first = registry({ MCP_X: mcp.fetcher });
    const [tool] = await first.list();
    expect(tool).toMatchObject({ name: "x__count", sideEffects: false, binding: "MCP_X", mcp: { server: "x", tool: "count" } });
    expect(tool!.definition.function).toEqual({ name: "x__count", description: "Counts.", parameters: objectSchema });
    expect(tool!.validate({ n: "one" })).toEqual([expect.stringContaining("#/n")]);
    await registry({ MCP_X: mcp.fetcher }).list();
    // A server of an older revision answers the 2026-07-28 probe with an error, and is initialized.
    expect(mcp.methods).toEqual(["server/discover", "initialize", "notifications/initialized", "tools/list"]);
    expect(await first.invoke(tool!, { n: 1 }, context, { timeoutMs: 1000 })).toEqual({ ok: true, result: "called count" });
    expect(mcp.methods.slice(4)).toEqual(["tools/call"]);
  });

  it("initializes again, once, when the server forgot the session", async () => {
    const mcp = fakeMcpBinding([{ name: "count", inputSchema: objectSchema }], { forgetSessions: true });
    const tools = registry({ MCP_X: mcp.fetcher });
    const [tool] = await tools.list();
    await tools.invoke(tool!, { n: 1 }, context, { timeoutMs: 1000 });
    expect(await tools.invoke(tool!, { n: 2 }, context, { timeoutMs: 1000 })).toEqual({ ok: true, result: "called count" });
    expect(mcp.methods.slice(5)).toEqual(["tools/call", "initialize", "notifications/initialized", "tools/call"]);
  });

  it("draws every request through a binding from the invocation budget", async () => {
    const mcp = fakeMcpBinding([{ name: "count", inputSchema: objectSchema }]);
    const env = { MCP_X: mcp.fetcher };
    const budget = new InvocationBudget(3);
    const tools = await createServerToolRegistry({ env, config: readConfig(env as unknown as Env), budget }).list();
    expect(tools).toEqual([]);
    expect(budget.remaining).toBe(0);
    expect(mcp.methods).toEqual(["server/discover", "initialize", "notifications/initialized"]);
  });
});

describe("MCP results", () => {
  it("prefers structured content, joins text, keeps base64 out, and turns isError into a failure", () => {
    expect(toOutcome({ content: [{ type: "text", text: "{}" }], structuredContent: { sum: 5 } })).toEqual({ ok: true, result: { sum: 5 } });
    expect(
      toOutcome({
        content: [
          { type: "text", text: "a" },
          { type: "text", text: "b" },
        ],
      }),
    ).toEqual({ ok: true, result: "a\nb" });
    const image = toOutcome({ content: [{ type: "image", mimeType: "image/png", data: "AAAA" }] });
    expect(image).toEqual({ ok: true, result: [{ type: "image", mimeType: "image/png", data: "[4 base64 characters left out]" }] });
    expect(toOutcome({ content: [{ type: "text", text: "nope" }], isError: true })).toEqual({ ok: false, type: "tool_error", message: "nope" });
  });

  it("serves a result as structuredContent and JSON text, an error as isError, and cuts long output", () => {
    expect(toCallToolResult({ ok: true, result: { sum: 5 } }, 1000)).toEqual({
      content: [{ type: "text", text: '{"sum":5}' }],
      structuredContent: { sum: 5 },
      isError: false,
    });
    expect(toCallToolResult({ ok: true, result: [1, 2] }, 1000).structuredContent).toEqual({ result: [1, 2] });
    const failed = toCallToolResult({ ok: false, type: "tool_timeout", message: "slow" }, 1000);
    expect(failed).toMatchObject({ isError: true, structuredContent: { error: { type: "tool_timeout", message: "slow" } } });
    const cut = toCallToolResult({ ok: true, result: "x".repeat(500) }, 300);
    expect(cut.structuredContent).toBeUndefined();
    expect(cut.content[0]!.text).toMatch(/\[Tool output cut at 300 of 500 characters\.\]$/);
  });
});

describe("MCP_SERVERS", () => {
  it("keeps good entries and says why the others were left out", () => {
    const { servers, problems } = parseMcpServers(
      JSON.stringify([
        { name: "ok", url: "https://mcp.example.com/mcp", headers: { Authorization: "TOKEN" }, tools: ["a"] },
        { name: "ok", url: "https://other.example.com/mcp" },
        { name: "bad name!", url: "https://x.example.com" },
        { name: "ftp", url: "ftp://x.example.com" },
        { name: "hdr", url: "https://x.example.com", headers: { Authorization: 42 } },
      ]),
    );
    expect(servers).toEqual([{ name: "ok", url: "https://mcp.example.com/mcp", headers: { Authorization: "TOKEN" }, tools: ["a"] }]);
    expect(problems).toHaveLength(4);
    expect(parseMcpServers("{oops").problems).toEqual(["MCP_SERVERS is not valid JSON"]);
  });

  it("redacts the header secrets it names from logs", () => {
    const config = readConfig({
      MCP_SERVERS: JSON.stringify([{ name: "s", url: "https://s.example.com", headers: { "X-Key": "S_KEY" } }]),
      S_KEY: "very-secret-value",
    } as unknown as Env);
    expect(config.secrets).toContain("very-secret-value");
  });
});
