// A door that runs turns needs the model: without DMXAPI's key it answers 503 before anything is
// claimed or spent, after the request itself was checked (a bad request is still the client's 400).

import type { Config } from "../config.js";
import { ApiError } from "../errors.js";

export function requireUpstreamKey(config: Config): void {
  if (!config.dmxapi.apiKey) {
    throw new ApiError(503, "The orchestrator has no DMXAPI_API_KEY configured.", { type: "server_error", code: "upstream_not_configured" });
  }
}
