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
  /** The managed key's id and the name of its object (its hash), when the request came with one. */
  keyId?: string;
  keyHash?: string;
  /** The request's concurrency slot, and whether a run took it over (it then gives it back when it ends). */
  slot?: string;
  slotHandedOff?: boolean;
  /** What a route adds to the request's one access log line (steps, tokens, tool invocations). */
  accessLog: LogFields;
}

export type AppEnv = { Bindings: Env; Variables: AppVariables };
