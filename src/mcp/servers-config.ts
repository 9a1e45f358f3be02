// The MCP servers the operator declared in `MCP_SERVERS`: a JSON array of
// `{"name", "url", "headers": {"Header": "SECRET_NAME"}, "tools": [allowlist], "require_approval": "always" | [names]}`. Header values are
// never written in the configuration: each names a Worker secret, read at request time. An entry
// that is wrong is left out with a reason, never a failed request.

import { isJsonObject } from "../protocol/types.js";

/** Server names become the `<server>` of `<server>__<tool>`, so they must fit a function name. */
export const MCP_SERVER_NAME_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

export interface McpServerConfig {
  name: string;
  url: string;
  /** Header name → name of the secret holding its value. */
  headers: Record<string, string>;
  /** MCP tool names (as the server spells them) to offer; null: all. */
  tools: string[] | null;
  /** Its tools whose calls wait for a person's approval: `"always"` for all, or their names. */
  approval?: "always" | string[];
}

export interface McpServersSetting {
  servers: McpServerConfig[];
  /** Why entries were left out, for the logs. */
  problems: string[];
}

export function parseMcpServers(raw: string | undefined): McpServersSetting {
  if (raw === undefined || raw.trim() === "") return { servers: [], problems: [] };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { servers: [], problems: ["MCP_SERVERS is not valid JSON"] };
  }
  if (!Array.isArray(value)) return { servers: [], problems: ["MCP_SERVERS must be a JSON array"] };
  const servers: McpServerConfig[] = [];
  const problems: string[] = [];
  value.forEach((entry, index) => {
    const problem = checkEntry(entry, servers);
    if (problem) problems.push(`MCP_SERVERS[${index}] left out: ${problem}`);
    else servers.push(toConfig(entry as McpServerEntry));
  });
  return { servers, problems };
}

interface McpServerEntry {
  name: string;
  url: string;
  headers?: Record<string, string>;
  tools?: string[];
  require_approval?: "always" | "never" | string[];
}

function checkEntry(entry: unknown, accepted: readonly McpServerConfig[]): string | null {
  if (!isJsonObject(entry)) return "not an object";
  if (typeof entry.name !== "string" || !MCP_SERVER_NAME_PATTERN.test(entry.name)) return "name must be 1-32 of A-Z a-z 0-9 _ -";
  if (accepted.some((server) => server.name === entry.name)) return `the name ${entry.name} is taken`;
  let url: URL;
  try {
    url = new URL(String(entry.url));
  } catch {
    return "url is not a URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "url must be http(s)";
  if (entry.headers !== undefined && (!isJsonObject(entry.headers) || Object.values(entry.headers).some((secret) => typeof secret !== "string"))) {
    return "headers must map header names to secret names";
  }
  if (entry.tools !== undefined && (!Array.isArray(entry.tools) || entry.tools.some((tool) => typeof tool !== "string"))) {
    return "tools must be an array of tool names";
  }
  const approval = entry.require_approval;
  if (
    approval !== undefined &&
    approval !== "always" &&
    approval !== "never" &&
    !(Array.isArray(approval) && approval.every((name) => typeof name === "string"))
  ) {
    return 'require_approval must be "always", "never" or an array of tool names';
  }
  return null;
}

function toConfig(entry: McpServerEntry): McpServerConfig {
  const approval = entry.require_approval;
  return {
    name: entry.name,
    url: entry.url,
    headers: { ...entry.headers },
    tools: entry.tools ? [...entry.tools] : null,
    ...(approval === "always" ? { approval } : Array.isArray(approval) ? { approval: [...approval] } : {}),
  };
}
