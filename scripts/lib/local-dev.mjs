// What `npm start` provides when a developer has set nothing, shared with `npm run webhook` so the
// two agree: the local API key, and a signing secret for each shipped hook. None of this exists in a
// deployed Worker: there, a missing key or secret refuses requests.

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { root } from "./workers.mjs";

export const LOCAL_DEV_KEY = "sk-switchboard-local-dev";

/** A stable local secret for a hook variable: `whsec_` base64 for Standard Webhooks, text for GitHub. */
export function localHookSecret(variable, scheme) {
  const seed = createHash("sha256").update(`switchboard-local-dev:${variable}`).digest();
  return scheme === "standard-webhooks" ? `whsec_${seed.subarray(0, 24).toString("base64")}` : `local-dev-${seed.subarray(0, 12).toString("hex")}`;
}

/** The .dev.vars file local runs read: ./.dev.vars, or the file SWITCHBOARD_DEV_VARS names (tests point it away). */
export const devVarsPath = () => process.env.SWITCHBOARD_DEV_VARS || path.join(root, ".dev.vars");

/** KEY=value lines of a .dev.vars file (quotes removed, comments skipped); {} when there is none. */
export function readDevVars(file = devVarsPath()) {
  if (!existsSync(file)) return {};
  const vars = {};
  for (const line of readFileSync(file, "utf8").split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trimStart().startsWith("#")) continue;
    vars[match[1]] = match[2].replace(/^(['"])(.*)\1$/, "$2");
  }
  return vars;
}

/** The settings a local run sees: .dev.vars, then the process environment over it. */
export function localSettings() {
  return { ...readDevVars(), ...process.env };
}

/**
 * The tenant of the local key: the hooks' tenant when they share one, so the key that chats also
 * reads what a hook stored (GET /v1/conversations/:id, deliveries); else "local".
 */
export function localTenant(hooks) {
  const tenants = [...new Set([...hooks.values()].map((hook) => hook.tenant))];
  return tenants.length === 1 ? tenants[0] : "local";
}
