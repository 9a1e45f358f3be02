// The hono context every route shares.

import type { Config } from "./config.js";
import type { Env } from "./env.js";
import type { Logger } from "./log.js";
import type { Services } from "./services.js";

export interface AppVariables {
  requestId: string;
  config: Config;
  tenant: string;
  log: Logger;
  services: Services;
}

export type AppEnv = { Bindings: Env; Variables: AppVariables };
