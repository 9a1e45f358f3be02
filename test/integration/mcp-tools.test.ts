// MCP servers as server tools: a real MCP server built with the official SDK, reached both as a
// remote server declared in MCP_SERVERS (through the outbound mock) and as a Worker behind an MCP_*
// service binding; and servers that hang or answer garbage, which must never fail a turn.

import path from "node:path";
import type { BuildOptions } from "esbuild";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { distDir, workerBundleOptions } from "../../scripts/lib/workers.mjs";
import { statefulHandler } from "../fixtures/mcp/demo-server.js";
import { useSwitchboard } from "./support/harness.js";
import { reply, toolCall } from "./support/mock-upstream.js";

const mcpWorker = path.join(distDir, "fixtures", "mcp-worker", "index.js");
await build({
  ...(workerBundleOptions as BuildOptions),
  entryPoints: [path.resolve(import.meta.dirname, "../fixtures/workers/mcp-worker.ts")],
  outfile: mcpWorker,
});

const DEMO_TOKEN = "Bearer demo-mcp-token-31337";

/** The remote demo server, stateful and answering in SSE, refusing requests without the operator's token. */
function remoteServer(received: Array<{ method: string; authorization: string | null }>) {
  const handle = statefulHandler();
  return async (request: Request) => {
    const body = (await request.clone().json()) as { method?: string };
    received.push({ method: String(body.method), authorization: request.headers.get("Authorization") });
    if (request.headers.get("Authorization") !== DEMO_TOKEN) return new Response("Unauthorized", { status: 401 });
    return handle(request);
  };
}

type ToolMessage = { role: string; tool_call_id: string; content: string };
const toolMessages = (body: Record<string, unknown>) => (body.messages as ToolMessage[]).filter((message) => message.role === "tool");
const offered = (body: Record<string, unknown>) => ((body.tools as Array<{ function: { name: string } }>) ?? []).map((tool) => tool.function.name);

describe("MCP servers as server tools", () => {
  const switchboard = useSwitchboard({
    vars: {
      MCP_SERVERS: JSON.stringify([
        { name: "remote", url: "https://mcp.example.com/mcp", headers: { Authorization: "DEMO_MCP_TOKEN" } },
        { name: "nokey", url: "https://mcp.example.com/other", headers: { Authorization: "UNSET_MCP_TOKEN" } },
      ]),
      DEMO_MCP_TOKEN: DEMO_TOKEN,
    },
    serviceBindings: { MCP_DEMO: "mcp-demo" },
    extraWorkers: [{ name: "mcp-demo", modules: true, scriptPath: mcpWorker, compatibilityDate: "2026-11-01", compatibilityFlags: ["nodejs_compat"] }],
  });
  const received: Array<{ method: string; authorization: string | null }> = [];
  const calls = () => received.filter((entry) => entry.method === "tools/call").length;

  it("lists every MCP tool in GET /v1/tools as <server>__<tool>, with where it comes from", async () => {
    switchboard.upstream.hosts.set("mcp.example.com", remoteServer(received));
    const response = await switchboard.request("/v1/tools");
    const { data } = (await response.json()) as { data: Array<{ function: { name: string; parameters: unknown }; metadata: Record<string, unknown> }> };
    const byName = new Map(data.map((tool) => [tool.function.name, tool]));
    expect([...byName.keys()]).toEqual(
      expect.arrayContaining(["calculate", "demo__add", "demo__echo_upper", "remote__add", "remote__refuse", "remote__sleep"]),
    );
    expect(byName.get("remote__add")!.metadata).toMatchObject({
      origin: "mcp",
      mcp_server: "remote",
      mcp_tool: "add",
      url: "https://mcp.example.com/mcp",
      side_effects: false,
    });
    expect(byName.get("demo__echo_upper")!.metadata).toMatchObject({ origin: "mcp", mcp_tool: "echo.upper", binding: "MCP_DEMO", side_effects: true });
    expect(byName.get("calculate")!.metadata).toMatchObject({ origin: "worker", binding: "TOOL_CALCULATOR" });
    expect(byName.get("remote__add")!.function.parameters).toMatchObject({ type: "object", required: ["a", "b"] });
    // The token was read from the secret the configuration names, and never logged.
    expect(received.every((entry) => entry.authorization === DEMO_TOKEN)).toBe(true);
    expect(switchboard.logs.join("\n")).not.toContain("demo-mcp-token");
    // A server whose secret is not set is left out, with the reason in the log.
    expect([...byName.keys()].some((name) => name.startsWith("nokey__"))).toBe(false);
    expect(switchboard.logs.some((line) => line.includes("mcp_server_skipped") && line.includes("UNSET_MCP_TOKEN"))).toBe(true);
  });

  it("runs a remote MCP tool in a turn and answers from its structured result", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("remote__add", { a: 2, b: 3 }, "call_add")));
    const completion = await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "2+3 with the server" }] });
    const [first, second] = switchboard.upstream.chatCalls;
    expect(offered(first!.body)).toEqual(expect.arrayContaining(["remote__add", "demo__add"]));
    expect(toolMessages(second!.body)).toEqual([{ role: "tool", tool_call_id: "call_add", content: '{"sum":5}' }]);
    expect(completion.choices[0]!.message.content).toBe('From the tools: {"sum":5}');
  });

  it("runs an MCP Worker's tool over its service binding in a streamed turn", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("demo__echo_upper", { text: "over the binding" }, "call_echo")));
    const stream = await switchboard.openai.chat.completions.create({
      model: "gpt-5-mini",
      messages: [{ role: "user", content: "shout it" }],
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text).toBe("From the tools: OVER THE BINDING");
    expect(toolMessages(switchboard.upstream.chatCalls[1]!.body)[0]!.content).toBe("OVER THE BINDING");
  });

  it("checks arguments against the server's inputSchema before calling it", async () => {
    const before = calls();
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("remote__add", { a: "two", b: 3 }, "call_bad")));
    await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "add badly" }] });
    const content = JSON.parse(toolMessages(switchboard.upstream.chatCalls[1]!.body)[0]!.content);
    expect(content.error).toMatchObject({ type: "invalid_arguments" });
    expect(content.error.message).toMatch(/#\/a/);
    expect(calls()).toBe(before);
  });

  it("feeds an MCP tool's error result and a call that never answers to the model as data", async () => {
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("remote__refuse", {}, "call_refuse"), toolCall("remote__sleep", {}, "call_sleep")));
    const completion = await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "try" }] });
    const [refused, slept] = toolMessages(switchboard.upstream.chatCalls[1]!.body).map((message) => JSON.parse(message.content));
    expect(refused.error).toEqual({ type: "tool_error", message: "Refused: the demo server never does this." });
    expect(slept.error.type).toBe("tool_timeout");
    expect(completion.choices[0]!.finish_reason).toBe("stop");
  });

  it("lets server_tools name MCP tools like any tool", async () => {
    await switchboard.openai.chat.completions.create({
      model: "gpt-5-mini",
      messages: [{ role: "user", content: "hi" }],
      // @ts-expect-error Switchboard extension
      server_tools: ["remote__add", "calculate"],
    });
    expect(offered(switchboard.upstream.chatCalls[0]!.body).sort()).toEqual(["calculate", "remote__add"]);
  });
});

describe("MCP servers that hang or answer garbage", () => {
  const switchboard = useSwitchboard({
    vars: {
      MCP_SERVERS: JSON.stringify([
        { name: "hangs", url: "https://hang.example.com/mcp" },
        { name: "garbage", url: "https://garbage.example.com/mcp" },
        { name: "healthy", url: "https://healthy.example.com/mcp", headers: { Authorization: "DEMO_MCP_TOKEN" }, tools: ["add"] },
      ]),
      DEMO_MCP_TOKEN: DEMO_TOKEN,
    },
  });

  it("costs one warning per server and leaves only its tools out of the turn", async () => {
    switchboard.upstream.hosts.set("hang.example.com", () => new Promise<Response>(() => undefined));
    switchboard.upstream.hosts.set("garbage.example.com", () => new Response("<html>surprise</html>", { headers: { "Content-Type": "text/html" } }));
    switchboard.upstream.hosts.set("healthy.example.com", remoteServer([]));
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("healthy__add", { a: 40, b: 2 }, "call_ok")));
    const completion = await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "add" }] });
    expect(completion.choices[0]!.message.content).toBe('From the tools: {"sum":42}');
    const tools = offered(switchboard.upstream.chatCalls[0]!.body);
    expect(tools).toEqual(expect.arrayContaining(["calculate", "healthy__add"]));
    // The per-server allowlist keeps the healthy server's other tools out.
    expect(tools.filter((name) => name.includes("__"))).toEqual(["healthy__add"]);
    const warnings = switchboard.logs.filter((line) => line.includes("mcp_server_unavailable"));
    expect(warnings.filter((line) => line.includes('"server":"hangs"'))).toHaveLength(1);
    expect(warnings.filter((line) => line.includes('"server":"garbage"'))).toHaveLength(1);
    expect(warnings.join("\n")).toMatch(/no answer within \d+ ms/);
  });
});
