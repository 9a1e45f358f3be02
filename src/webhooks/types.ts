// What a webhook hook is. Hooks are declared in hooks.ts (this repository), reviewed like code.

export type VerificationScheme = "standard-webhooks" | "github";

export interface HookConfig {
  /** The path segment: POST /v1/webhooks/{name}. */
  name: string;
  verification: {
    scheme: VerificationScheme;
    /** Name of the Worker secret holding the signing secret (`whsec_...` for Standard Webhooks). */
    secret: string;
  };
  /** The user message, a template over the JSON payload: `{{issue.title}}`, `{{items.0.sku}}`. */
  message: string;
  /** An optional system message, same template syntax. */
  system?: string;
  /** Server tools the turn may use; [] for none. */
  tools: string[];
  /**
   * Which conversation the event goes to: "per-event" starts a new one for every delivery; a
   * template (e.g. "{{repository.full_name}}#{{issue.number}}") keys it by payload fields.
   */
  conversation: "per-event" | { key: string };
  /** Where to deliver the answer, signed with Standard Webhooks. Names of Worker variables/secrets. */
  callback?: { url_env: string; secret_env: string };
  /** The tenant the conversations belong to (readable with that tenant's API key). */
  tenant: string;
  model?: string;
  /** Largest body accepted, in bytes; default 256 KiB. */
  max_body_bytes?: number;
}

export function defineHooks(hooks: HookConfig[]): ReadonlyMap<string, HookConfig> {
  const byName = new Map<string, HookConfig>();
  for (const hook of hooks) {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(hook.name)) throw new Error(`Hook name "${hook.name}" must be lowercase letters, digits and dashes`);
    if (byName.has(hook.name)) throw new Error(`Hook "${hook.name}" is declared twice`);
    byName.set(hook.name, hook);
  }
  return byName;
}
