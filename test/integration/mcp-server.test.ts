// POST /mcp: the server tools as an MCP server, driven by the official MCP SDK's client, with the
// same keys, tenants and allowlists as the chat route.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, describe, expect, it } from "vitest";
import { KEYS, useSwitchboard } from "./support/harness.js";

const switchboard = useSwitchboard({
  vars: {
    TENANT_SERVER_TOOLS: JSON.stringify({ "tenant-b": ["calculate"] }),
    MCP_ALLOWED_ORIGINS: "http://localhost:6274",
    MAX_TOOL_OUTPUT_CHARS: "300",
  },
});

const clients: Client[] = [];

async function connect(apiKey: string = KEYS.tenantA, path = "/mcp"): Promise<Client> {
  const client = new Client({ name: "switchboard-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(path, switchboard.url), {
    requestInit: { headers: { Authorization: `Bearer ${apiKey}` } },
  });
  await client.connect(transport);
  clients.push(client);
  return client;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

const rpc = (body: unknown, headers: Record<string, string> = {}) =>
  switchboard.request("/mcp", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", ...headers },
    body: JSON.stringify(body),
  });

describe("POST /mcp with the official MCP client", () => {
  it("lists the tool Workers in name order, with their JSON Schema and side-effect annotations", async () => {
    const client = await connect();
    expect(client.getServerVersion()?.name).toBe("switchboard");
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(["calculate", "get_current_time", "get_current_weather", "notes"]));
    const weather = tools.find((tool) => tool.name === "get_current_weather")!;
    expect(weather.description).toMatch(/weather/i);
    expect(weather.inputSchema).toMatchObject({ type: "object", required: ["location"] });
    expect(weather.annotations).toEqual({ readOnlyHint: true });
    expect(tools.find((tool) => tool.name === "notes")!.annotations).toEqual({ readOnlyHint: false });
  });

  it("calls a tool and answers structuredContent plus the same JSON as text", async () => {
    const client = await connect();
    const result = await client.callTool({ name: "calculate", arguments: { expression: "12*(3+4)" } });
    expect(result.isError).toBe(false);
    expect(result.structuredContent).toMatchObject({ result: 84 });
    const [block] = result.content as Array<{ type: string; text: string }>;
    expect(block!.type).toBe("text");
    expect(JSON.parse(block!.text)).toEqual(result.structuredContent);
  });

  it("answers a failing tool and invalid arguments as isError results the caller's model can read", async () => {
    const client = await connect();
    const failed = await client.callTool({ name: "get_current_time", arguments: { timezone: "Mars/Olympus_Mons" } });
    expect(failed.isError).toBe(true);
    expect(JSON.stringify(failed.content)).toContain("Mars/Olympus_Mons");
    const invalid = await client.callTool({ name: "calculate", arguments: { expression: 42 } });
    expect(invalid.isError).toBe(true);
    expect(invalid.structuredContent).toMatchObject({ error: { type: "invalid_arguments" } });
  });

  it("cuts output over MAX_TOOL_OUTPUT_CHARS and says so", async () => {
    const client = await connect();
    // The calculator echoes its expression: 400 characters of it are over the limit.
    const result = await client.callTool({ name: "calculate", arguments: { expression: Array(200).fill("1").join("+") } });
    const text = (result.content as Array<{ text: string }>)[0]!.text;
    expect(text).toMatch(/\[Tool output cut at 300 of \d+ characters\.\]$/);
    expect(result.structuredContent).toBeUndefined();
  });

  it("refuses a client without a key with 401", async () => {
    const client = new Client({ name: "anonymous", version: "1.0.0" });
    await expect(client.connect(new StreamableHTTPClientTransport(new URL("/mcp", switchboard.url)))).rejects.toMatchObject({ code: 401 });
    const response = await fetch(new URL("/mcp", switchboard.url), {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: "missing_api_key" } });
  });

  it("holds a tenant to its allowlist: other tools are neither listed nor callable", async () => {
    const client = await connect(KEYS.tenantB);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(["calculate"]);
    await expect(client.callTool({ name: "get_current_time", arguments: { timezone: "UTC" } })).rejects.toThrow(/Unknown tool: get_current_time/);
    // Tenant A, unrestricted, still sees everything.
    expect((await (await connect()).listTools()).tools.length).toBeGreaterThan(4);
  });

  it("holds the tenant to the same allowlist in chat and in GET /v1/tools", async () => {
    await switchboard.client(KEYS.tenantB).chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "hi" }] });
    const offered = (switchboard.upstream.chatCalls[0]!.body.tools as Array<{ function: { name: string } }>).map((tool) => tool.function.name);
    expect(offered).toEqual(["calculate"]);
    const listed = (await (await switchboard.request("/v1/tools", { headers: { Authorization: `Bearer ${KEYS.tenantB}` } })).json()) as { data: unknown[] };
    expect(listed.data).toHaveLength(1);
  });

  it("applies a per-connection allowlist from ?server_tools=", async () => {
    const client = await connect(KEYS.tenantA, "/mcp?server_tools=notes,get_current_time");
    expect((await client.listTools()).tools.map((tool) => tool.name)).toEqual(["get_current_time", "notes"]);
    await expect(client.callTool({ name: "calculate", arguments: { expression: "1+1" } })).rejects.toThrow(/Unknown tool/);
  });

  it("keeps MCP notes per tenant, in the conversation X-Conversation-Id names", async () => {
    const saved = await rpc(
      { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "notes", arguments: { action: "save", text: "mcp note" } } },
      { "X-Conversation-Id": "conv_mcp_notes" },
    );
    expect((await saved.json()) as unknown).toMatchObject({ id: 7, result: { isError: false } });
    const recalled = await rpc(
      { jsonrpc: "2.0", id: 8, method: "tools/call", params: { name: "notes", arguments: { action: "recall" } } },
      { "X-Conversation-Id": "conv_mcp_notes" },
    );
    expect(JSON.stringify(await recalled.json())).toContain("mcp note");
    const elsewhere = await rpc(
      { jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "notes", arguments: { action: "recall" } } },
      { "X-Conversation-Id": "conv_mcp_notes", Authorization: `Bearer ${KEYS.webhooks}` },
    );
    expect(JSON.stringify(await elsewhere.json())).not.toContain("mcp note");
  });

  it("saves both notes of two clients that send the same X-Request-Id and JSON-RPC id: the idempotency key is the server's", async () => {
    const sameIds = { "X-Conversation-Id": "conv_mcp_same_ids", "X-Request-Id": "req_chosen_by_every_client" };
    const save = (text: string) =>
      rpc({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "notes", arguments: { action: "save", text } } }, sameIds);
    const first = (await (await save("first client's note")).json()) as { result: { isError: boolean; structuredContent: { status: string; id: string } } };
    const second = (await (await save("second client's note")).json()) as { result: { isError: boolean; structuredContent: { status: string; id: string } } };
    expect(first.result).toMatchObject({ isError: false, structuredContent: { status: "saved", text: "first client's note" } });
    expect(second.result).toMatchObject({ isError: false, structuredContent: { status: "saved", text: "second client's note" } });
    expect(second.result.structuredContent.id).not.toBe(first.result.structuredContent.id);

    const recalled = (await (
      await rpc({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "notes", arguments: { action: "recall" } } }, sameIds)
    ).json()) as { result: { structuredContent: { notes: Array<{ text: string }> } } };
    expect(recalled.result.structuredContent.notes.map((note) => note.text).sort()).toEqual(["first client's note", "second client's note"]);
  });
});

describe("POST /mcp over the wire", () => {
  it("answers as SSE to a client that accepts only event streams", async () => {
    const response = await rpc(
      { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "calculate", arguments: { expression: "2^10" } } },
      { Accept: "text/event-stream" },
    );
    expect(response.headers.get("Content-Type")).toMatch(/^text\/event-stream/);
    const event = (await response.text()).split("\n").find((line) => line.startsWith("data: "))!;
    expect(JSON.parse(event.slice(6))).toMatchObject({ jsonrpc: "2.0", id: 1, result: { structuredContent: { result: 1024 } } });
  });

  it("accepts notifications with 202 and no body, and refuses GET with 405", async () => {
    const accepted = await rpc({ jsonrpc: "2.0", method: "notifications/initialized" });
    expect(accepted.status).toBe(202);
    expect(await accepted.text()).toBe("");
    expect((await switchboard.request("/mcp")).status).toBe(405);
  });

  it("refuses a browser Origin that is not allowed with 403, and lets an allowed one preflight", async () => {
    const refused = await rpc({ jsonrpc: "2.0", id: 1, method: "ping" }, { Origin: "https://evil.example" });
    expect(refused.status).toBe(403);
    const preflight = await fetch(new URL("/mcp", switchboard.url), {
      method: "OPTIONS",
      headers: { Origin: "http://localhost:6274", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type" },
    });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe("http://localhost:6274");
    const allowed = await rpc({ jsonrpc: "2.0", id: 1, method: "ping" }, { Origin: "http://localhost:6274" });
    expect(await allowed.json()).toEqual({ jsonrpc: "2.0", id: 1, result: {} });
  });

  it("answers garbage with JSON-RPC errors, an unknown method with -32601, a bad protocol version with 400", async () => {
    const notJson = await switchboard.request("/mcp", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{not json" });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ id: null, error: { code: -32700 } });
    const notRpc = await rpc({ hello: "world" });
    expect(await notRpc.json()).toMatchObject({ error: { code: -32600 } });
    expect(await (await rpc({ jsonrpc: "2.0", id: 2, method: "resources/list" })).json()).toMatchObject({ id: 2, error: { code: -32601 } });
    expect((await rpc({ jsonrpc: "2.0", id: 3, method: "ping" }, { "MCP-Protocol-Version": "1999-01-01" })).status).toBe(400);
  });
});
