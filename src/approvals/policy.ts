// Which tool calls wait for a person. Three voices, and only ever more approval, never less: the
// operator (APPROVAL_REQUIRED_TOOLS, an MCP server's entry), the tool itself (the kit's
// `needsApproval`, for every call or for arguments that match a schema), and the client (a Responses
// `mcp` tool's `require_approval`), which can ask for approval the operator did not, never skip it.

import type { Config } from "../config.js";
import { SERVER_LABEL } from "../protocol/responses/output.js";
import type { JsonObject } from "../protocol/types.js";
import type { ServerTool } from "../tools/registry.js";

/**
 * Tools named by where they come from: `switchboard` (tool Workers, by their names) or a configured
 * MCP server's name (its tools by the server's own names); `*` for all of that source's tools. A
 * Responses request's `mcp` tools select sources this way, and ask for approval this way. Plain data,
 * kept with the run.
 */
export type ToolSelection = Array<{ server_label: string; tools: "*" | string[] }>;

/** What a client asked to approve beyond the operator's rules. */
export type ClientApproval = ToolSelection;

/** Whether the selection names this tool. */
export function selects(selection: ToolSelection, tool: ServerTool): boolean {
  const label = tool.mcp?.server ?? SERVER_LABEL;
  const name = tool.mcp?.tool ?? tool.name;
  return selection.some((entry) => entry.server_label === label && (entry.tools === "*" || entry.tools.includes(name)));
}

export function approvalPolicy(config: Config, client: ClientApproval | undefined): (tool: ServerTool, args: JsonObject) => boolean {
  const operator = config.approvals.tools;
  return (tool, args) => {
    if (operator === "*" || operator.includes(tool.name)) return true;
    if (client && selects(client, tool)) return true;
    if (tool.approval === "always") return true;
    return typeof tool.approval === "function" && tool.approval(args);
  };
}
