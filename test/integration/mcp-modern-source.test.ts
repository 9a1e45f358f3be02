// A remote MCP server that speaks only 2026-07-28 (the official v2 server SDK, refusing older
// revisions) as a source of server tools: Switchboard's client asks server/discover, never
// initializes, and lists and calls the server's tools statelessly.

import { createMcpHandler, fromJsonSchema, McpServer } from "@modelcontextprotocol/server";
import { expect, it } from "vitest";
import { useSwitchboard } from "./support/harness.js";
import { reply, toolCall } from "./support/mock-upstream.js";

const switchboard = useSwitchboard({ vars: { MCP_SERVERS: JSON.stringify([{ name: "modern", url: "https://modern-mcp.example.com/mcp" }]) } });

function modernServer(received: string[]) {
  const handler = createMcpHandler(
    () => {
      const server = new McpServer({ name: "modern-demo", version: "1.0.0" }, { capabilities: { tools: {} } });
      server.registerTool(
        "shout",
        {
          description: "Upper-cases a text.",
          inputSchema: fromJsonSchema<{ text: string }>({ type: "object", properties: { text: { type: "string" } }, required: ["text"] }),
        },
        async ({ text }) => ({ content: [{ type: "text", text: text.toUpperCase() }] }),
      );
      return server;
    },
    // Only 2026-07-28: a client that tried to initialize would be refused.
    { legacy: "reject" },
  );
  return async (request: Request) => {
    received.push(String(((await request.clone().json()) as { method?: string }).method));
    return handler.fetch(request);
  };
}

it("lists and calls the tools of a 2026-07-28-only server without initializing it", async () => {
  const received: string[] = [];
  switchboard.upstream.hosts.set("modern-mcp.example.com", modernServer(received));
  switchboard.upstream.enqueue(reply.toolCalls(toolCall("modern__shout", { text: "hello edge" }, "call_shout")));

  const response = await switchboard.request("/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ model: "gpt-5-mini", messages: [{ role: "user", content: "shout it" }] }),
  });

  expect(response.status).toBe(200);
  const messages = switchboard.upstream.chatCalls[1]?.body.messages as Array<{ role: string; content: string }>;
  expect(messages.find((message) => message.role === "tool")?.content).toContain("HELLO EDGE");
  expect(received).toEqual(expect.arrayContaining(["server/discover", "tools/list", "tools/call"]));
  expect(received).not.toContain("initialize");
});
