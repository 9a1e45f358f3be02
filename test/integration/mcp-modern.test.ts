// POST /mcp speaking MCP 2026-07-28, driven by the official v2 client (`@modelcontextprotocol/client`,
// pinned to 2026-07-28: no initialize) and the official Tasks client (`@modelcontextprotocol/ext-tasks`):
// tools are listed and called without a handshake, a task-augmented call is polled to its result or
// cancelled, and the older revisions keep working from the same endpoint.

import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createTaskSessionFromClient, resultFromTaskOutcome } from "@modelcontextprotocol/ext-tasks/client";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as LegacyTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, describe, expect, it } from "vitest";
import { eventually } from "./support/eventually.js";
import { KEYS, useSwitchboard } from "./support/harness.js";

// A task must still be running when it is cancelled: the weather tool waits on the mock's gate.
const switchboard = useSwitchboard({ vars: { TOOL_TIMEOUT_MS: "10000" } });
const VERSION = "2026-07-28";
const TASKS = "io.modelcontextprotocol/tasks";
const CLIENT_INFO = { name: "switchboard-test", version: "1.0.0" };

/** Every request the clients sent, as `method` (from the body): what the server was asked. */
const sent: string[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  sent.length = 0;
});

async function recordingFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const request = new Request(input, init);
  request.headers.set("Authorization", `Bearer ${KEYS.tenantA}`);
  if (request.method === "POST") sent.push(((await request.clone().json()) as { method?: string }).method ?? "(response)");
  return fetch(request);
}

/** Pinned to 2026-07-28; `tasks` declares the Tasks extension (a plain client cannot read a task handle). */
async function modernClient(tasks = false): Promise<Client> {
  const client = new Client(CLIENT_INFO, { versionNegotiation: { mode: { pin: VERSION } }, capabilities: tasks ? { extensions: { [TASKS]: {} } } : {} });
  await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", switchboard.url), { fetch: recordingFetch }));
  closers.push(() => client.close());
  return client;
}

/** The Tasks client over the v2 client, sending 2026-07-28 requests as its docs show. */
async function taskSession(client: Client) {
  let id = 0;
  const rawDispatch = async (request: { method: string; params?: Record<string, unknown> }) => {
    const name = (request.params?.taskId ?? request.params?.name) as string | undefined;
    const response = await recordingFetch(new URL("/mcp", switchboard.url), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": VERSION,
        "mcp-method": request.method,
        ...(name !== undefined ? { "mcp-name": name } : {}),
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: `task-${++id}`, ...request }),
    });
    const message = (await response.json()) as { result?: Record<string, unknown>; error?: { code: number; message: string } };
    return message.error ? { kind: "error" as const, error: message.error } : { kind: "result" as const, result: message.result ?? {} };
  };
  const session = createTaskSessionFromClient(client, {
    endpointId: "switchboard",
    rawDispatch,
    v2RequestFraming: { protocolVersion: VERSION, clientInfo: CLIENT_INFO, clientCapabilities: { extensions: { [TASKS]: {} } } },
  } as unknown as Parameters<typeof createTaskSessionFromClient>[1]);
  closers.push(() => session.close());
  return session;
}

describe("MCP 2026-07-28 with the official v2 client", () => {
  it("lists and calls tools without initializing", async () => {
    const client = await modernClient();
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(["calculate", "get_current_time", "get_current_weather", "notes"]));
    const result = await client.callTool({ name: "calculate", arguments: { expression: "6*7" } });
    expect(result.structuredContent).toMatchObject({ result: 42 });
    expect(sent).not.toContain("initialize");
    expect(sent).toContain("tools/list");
  });

  it("runs a task-augmented tools/call as a task, polled to its result", async () => {
    const release = switchboard.upstream.holdOpenMeteo();
    const session = await taskSession(await modernClient(true));
    const execution = await session.callTool("get_current_weather", { location: "Paris" });
    expect(execution.kind).toBe("task");
    release();
    const { outcome } = await execution.settle();
    const result = resultFromTaskOutcome(outcome) as { content: Array<{ text: string }>; isError?: boolean };
    expect(result.content[0]?.text).toContain("Paris");
    expect(result.isError, result.content[0]?.text).toBe(false);
    expect(sent).toContain("tasks/get");
    expect(switchboard.upstream.openMeteoCalls.filter((url) => url.pathname === "/v1/forecast")).toHaveLength(1);
  });

  it("cancels a running task: it ends cancelled, and its late result is not kept", async () => {
    const release = switchboard.upstream.holdOpenMeteo();
    const session = await taskSession(await modernClient(true));
    const execution = await session.callTool("get_current_weather", { location: "Lima" });
    if (execution.kind !== "task") throw new Error("expected a task");
    await eventually(async () => (switchboard.upstream.openMeteoCalls.length > 0 ? true : null));
    await execution.cancel();
    release();
    const snapshot = await session.task(execution.handle.taskId).snapshot();
    expect(snapshot.status).toBe("cancelled");
    expect(sent).toContain("tasks/cancel");
  });
});

describe("the 2026-07-28 envelope, checked", () => {
  const post = (body: unknown, headers: Record<string, string>) =>
    switchboard.request("/mcp", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", ...headers },
      body: JSON.stringify(body),
    });
  const meta = (version = VERSION) => ({
    "io.modelcontextprotocol/protocolVersion": version,
    "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
    "io.modelcontextprotocol/clientCapabilities": {},
  });

  it("answers server/discover with the versions, capabilities and cache hints", async () => {
    const response = await post(
      { jsonrpc: "2.0", id: 1, method: "server/discover", params: { _meta: meta() } },
      { "MCP-Protocol-Version": VERSION, "Mcp-Method": "server/discover" },
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      result: { supportedVersions: [VERSION], capabilities: { extensions: { [TASKS]: {} } }, resultType: "complete", ttlMs: 0, cacheScope: "private" },
    });
  });

  it("refuses a Mcp-Method or Mcp-Name header that does not match the body, and an unsupported version", async () => {
    const call = { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "calculate", arguments: { expression: "1+1" }, _meta: meta() } };
    const mismatched = await post(call, { "MCP-Protocol-Version": VERSION, "Mcp-Method": "tools/call", "Mcp-Name": "notes" });
    expect(mismatched.status).toBe(400);
    expect(await mismatched.json()).toMatchObject({ error: { code: -32020, data: { mismatch: { header: "notes", body: "calculate" } } } });
    const unsupported = await post(
      { ...call, params: { ...call.params, _meta: meta("2099-01-01") } },
      { "MCP-Protocol-Version": "2099-01-01", "Mcp-Method": "tools/call", "Mcp-Name": "calculate" },
    );
    expect(unsupported.status).toBe(400);
    expect(await unsupported.json()).toMatchObject({ error: { code: -32022, data: { supported: [VERSION], requested: "2099-01-01" } } });
    const noTasks = await post(
      { jsonrpc: "2.0", id: 3, method: "tasks/get", params: { taskId: "task_x", _meta: meta() } },
      { "MCP-Protocol-Version": VERSION, "Mcp-Method": "tasks/get", "Mcp-Name": "task_x" },
    );
    expect(noTasks.status).toBe(400);
    expect(await noTasks.json()).toMatchObject({ error: { code: -32021 } });
  });

  it("still serves a 2025-11-25 client from the same endpoint", async () => {
    const client = new LegacyClient(CLIENT_INFO);
    await client.connect(new LegacyTransport(new URL("/mcp", switchboard.url), { requestInit: { headers: { Authorization: `Bearer ${KEYS.tenantA}` } } }));
    closers.push(() => client.close());
    const result = await client.callTool({ name: "calculate", arguments: { expression: "2+3" } });
    expect(result.structuredContent).toMatchObject({ result: 5 });
  });
});
