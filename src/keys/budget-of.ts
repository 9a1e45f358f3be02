// What a door adds to the turn it starts when the request came with a managed key: the key (its
// object's name), which every model call of the turn is metered by, wherever the turn runs; and the
// request's concurrency slot, handed to a turn that runs in its conversation's home (it may outlive
// the request: a background response, a client that went away), which gives it back when it ends.

import type { Context } from "hono";
import type { RunTurn } from "../runs/types.js";
import type { AppEnv } from "../types.js";

export function budgetOf(c: Context<AppEnv>, durable: boolean): Pick<RunTurn, "meter"> {
  const key = c.get("keyHash");
  if (!key) return {};
  const slot = durable ? c.get("slot") : undefined;
  if (slot) c.set("slotHandedOff", true);
  return { meter: { key, ...(slot ? { slot } : {}) } };
}
