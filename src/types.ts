// The hono context every route shares.

import type { Config } from "./config.js";
import type { Env } from "./env.js";

export interface AppVariables {
  requestId: string;
  config: Config;
  tenant: string;
}

export type AppEnv = { Bindings: Env; Variables: AppVariables };
