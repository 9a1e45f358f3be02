// The hono context every route shares.

import type { Config } from "./config.js";
import type { Env } from "./env.js";
import type { LogFields, Logger } from "./log.js";
import type { Meter } from "./run-turn.js";
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
  /** The objects this request is metered by (its managed key's, its tenant's), with the slots it took in them. */
  meters?: Meter[];
  /** A run took the slots over (it gives them back when it ends). */
  slotHandedOff?: boolean;
  /** What a route adds to the request's one access log line (steps, tokens, tool invocations). */
  accessLog: LogFields;
}

export type AppEnv = { Bindings: Env; Variables: AppVariables };
