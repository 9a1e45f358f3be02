// What a door adds to the turn it starts when the request came with a managed key: the key (its
// object's name), which every model call of the turn is metered by wherever the turn runs, and
// whether it has budgets to reserve against first.

import type { Context } from "hono";
import type { RunTurn } from "../runs/types.js";
import type { AppEnv } from "../types.js";

export function budgetOf(c: Context<AppEnv>): Pick<RunTurn, "meter"> {
  const key = c.get("keyHash");
  return key ? { meter: { key, reserve: c.get("budgeted") === true } } : {};
}
