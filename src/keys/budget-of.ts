// What a door adds to the turn it starts when the request is metered (a managed key, a tenant with
// configured limits): the objects every model call of the turn is metered by, wherever the turn
// runs; and the request's concurrency slots, handed to a turn that runs in its conversation's home
// (it may outlive the request: a background response, a client that went away), which gives them
// back when it ends.

import type { Context } from "hono";
import type { RunTurn } from "../runs/types.js";
import type { AppEnv } from "../types.js";

export function budgetOf(c: Context<AppEnv>, durable: boolean): Pick<RunTurn, "meters"> {
  const meters = c.get("meters") ?? [];
  if (meters.length === 0) return {};
  if (durable && meters.some((meter) => meter.slot)) c.set("slotHandedOff", true);
  return { meters: meters.map(({ slot, ...meter }) => (durable && slot ? { ...meter, slot } : meter)) };
}
