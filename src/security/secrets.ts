// Every secret this orchestrator is configured with, for redaction: the DMXAPI key, the client keys,
// and each webhook hook's signing and callback secrets (whose variable names the hooks declare).

import type { Env } from "../env.js";
import { namedVariable } from "../env.js";
import { hooks } from "../webhooks/hooks.js";
import { parseKeyList } from "./api-keys.js";

export function configuredSecrets(env: Env): string[] {
  const secrets = [env.DMXAPI_API_KEY?.trim() ?? "", ...parseKeyList(env.SWITCHBOARD_API_KEYS).map((entry) => entry.key)];
  for (const hook of hooks.values()) {
    secrets.push(namedVariable(env, hook.verification.secret) ?? "");
    if (hook.callback) secrets.push(namedVariable(env, hook.callback.secret_env) ?? "");
  }
  return secrets.filter(Boolean);
}
