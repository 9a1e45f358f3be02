// Every secret this orchestrator is configured with, for redaction: the DMXAPI key, the client keys,
// and each webhook hook's signing and callback secrets (whose variable names the hooks declare; the
// composition point, config.ts, passes the hooks in, so this base module never imports a door).

import type { Env } from "../env.js";
import { namedVariable } from "../env.js";
import { parseKeyList } from "./api-keys.js";

/** Where a hook keeps its secrets: the names of the Worker variables holding them (a HookConfig is one). */
export interface HookSecretNames {
  verification: { secret: string };
  callback?: { secret_env: string };
}

export function configuredSecrets(env: Env, hooks: Iterable<HookSecretNames>): string[] {
  const secrets = [
    env.DMXAPI_API_KEY?.trim() ?? "",
    env.SWITCHBOARD_ADMIN_KEY?.trim() ?? "",
    ...parseKeyList(env.SWITCHBOARD_API_KEYS).map((entry) => entry.key),
  ];
  for (const hook of hooks) {
    secrets.push(namedVariable(env, hook.verification.secret) ?? "");
    if (hook.callback) secrets.push(namedVariable(env, hook.callback.secret_env) ?? "");
  }
  return secrets.filter(Boolean);
}
