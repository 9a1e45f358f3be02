// The hono context every route shares.

import type { Config } from "./config.js";
import type { Env } from "./env.js";
import type { LogFields, Logger } from "./log.js";
import type { Services } from "./services.js";

export interface AppVariables {
  requestId: string;
  config: Config;
  tenant: string;
  log: Logger;
  services: Services;
  /** The managed key has token or spend limits: its model calls reserve before they run. */
  budgeted?: boolean;
  /** The managed key's id and the name of its object (its hash), when the request came with one. */
  keyId?: string;
  keyHash?: string;
  /** What a route adds to the request's one access log line (steps, tokens, tool invocations). */
  accessLog: LogFields;
}

export type AppEnv = { Bindings: Env; Variables: AppVariables };
