import { describe, expect, it } from "vitest";
import { approvalPolicy } from "../../src/approvals/policy.js";
import { ConfigError, readConfig } from "../../src/config.js";
import type { Env } from "../../src/env.js";
import { parseMcpServers } from "../../src/mcp/servers-config.js";
import type { ServerTool } from "../../src/tools/registry.js";

function tool(name: string, extra: Partial<ServerTool> = {}): ServerTool {
  return {
    name,
    definition: { type: "function", function: { name, parameters: { type: "object" } } },
    version: "1",
    sideEffects: true,
    binding: "",
    validate: () => [],
    ...extra,
  };
}

const config = (vars: Record<string, string>) => readConfig({ ...vars } as unknown as Env);

describe("which calls wait for a person", () => {
  it("the operator names tools, or all of them with *", () => {
    const named = approvalPolicy(config({ APPROVAL_REQUIRED_TOOLS: "notes, pay" }), undefined);
    expect(named(tool("notes"), {})).toBe(true);
    expect(named(tool("get_current_time"), {})).toBe(false);
    expect(approvalPolicy(config({ APPROVAL_REQUIRED_TOOLS: "*" }), undefined)(tool("anything"), {})).toBe(true);
  });

  it("a tool's own declaration applies to every call or by its arguments", () => {
    const policy = approvalPolicy(config({}), undefined);
    expect(policy(tool("pay", { approval: "always" }), {})).toBe(true);
    const deletes = tool("notes", { approval: (args) => args.action === "delete" });
    expect(policy(deletes, { action: "delete" })).toBe(true);
    expect(policy(deletes, { action: "save" })).toBe(false);
  });

  it("a client adds approval by source and name, and can never take the operator's away", () => {
    const client = [{ server_label: "switchboard", tools: ["get_current_time"] }];
    const policy = approvalPolicy(config({ APPROVAL_REQUIRED_TOOLS: "notes" }), client);
    expect(policy(tool("get_current_time"), {})).toBe(true);
    expect(policy(tool("notes"), {})).toBe(true);
    expect(policy(tool("calculate"), {})).toBe(false);
    // An MCP server's tool is named by its server and its own name.
    const docs = tool("docs__search", { mcp: { server: "docs", tool: "search", url: null, annotations: null } });
    expect(approvalPolicy(config({}), [{ server_label: "docs", tools: "*" }])(docs, {})).toBe(true);
    expect(approvalPolicy(config({}), [{ server_label: "switchboard", tools: "*" }])(docs, {})).toBe(false);
  });

  it("refuses an APPROVAL_REQUIRED_TOOLS that cannot name tools, at start", () => {
    expect(() => config({ APPROVAL_REQUIRED_TOOLS: "notes, bad name!" })).toThrow(ConfigError);
    expect(() => config({ APPROVAL_TTL_SECONDS: "a day" })).toThrow(ConfigError);
  });

  it("an MCP server entry marks its tools: all, or by name; a wrong value leaves the entry out", () => {
    const { servers, problems } = parseMcpServers(
      JSON.stringify([
        { name: "pay", url: "https://pay.example/mcp", require_approval: "always" },
        { name: "docs", url: "https://docs.example/mcp", require_approval: ["delete_page"] },
        { name: "free", url: "https://free.example/mcp", require_approval: "never" },
        { name: "bad", url: "https://bad.example/mcp", require_approval: 3 },
      ]),
    );
    expect(servers.map((server) => [server.name, server.approval ?? null])).toEqual([
      ["pay", "always"],
      ["docs", ["delete_page"]],
      ["free", null],
    ]);
    expect(problems).toEqual([expect.stringContaining("require_approval")]);
  });
});
