import type { Context } from "hono";
import type { TurnDependencies, TurnRequest } from "../run-turn.js";
import { invalidRequest } from "../errors.js";
import type { AppEnv } from "../types.js";

export async function streamTurn(_c: Context<AppEnv>, _dependencies: TurnDependencies, _request: TurnRequest, _includeUsage: boolean): Promise<Response> {
  throw invalidRequest("stream: true is not supported yet.", "stream");
}
