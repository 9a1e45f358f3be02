// Deleting a conversation deletes what tools keep for it: every discovered tool that declares it
// forgets conversations is asked, through its binding, to forget this one conversation of this one
// tenant. All of them must succeed before the conversation itself is deleted, so a failed DELETE
// can simply be retried.

import type { ForgetRequest, ForgetResponse } from "../../kit/protocol.js";
import { isJsonObject } from "../protocol/types.js";
import type { InvocationBudget } from "./invocation-budget.js";
import type { ServerTool } from "./registry.js";

export const FORGET_TIMEOUT_MS = 10_000;

export type ForgetOutcome = { ok: true; forgotten: Record<string, number> } | { ok: false; failed: string[] };

export async function forgetInTools(env: object, tools: readonly ServerTool[], scope: ForgetRequest, budget: InvocationBudget): Promise<ForgetOutcome> {
  const stateful = tools.filter((tool) => tool.forgetsConversations);
  const results = await Promise.all(
    stateful.map(async (tool): Promise<[string, number | null]> => {
      const fetcher = (env as Record<string, Fetcher | undefined>)[tool.binding];
      if (!fetcher || !budget.tryTake()) return [tool.name, null];
      try {
        const response = await fetcher.fetch("https://tool.internal/forget", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(scope),
          signal: AbortSignal.timeout(FORGET_TIMEOUT_MS),
        });
        const body: unknown = await response.json().catch(() => null);
        const forgotten = isJsonObject(body) ? (body as Partial<ForgetResponse>).forgotten : undefined;
        return [tool.name, response.ok && typeof forgotten === "number" ? forgotten : null];
      } catch {
        return [tool.name, null];
      }
    }),
  );
  const failed = results.filter(([, forgotten]) => forgotten === null).map(([name]) => name);
  if (failed.length > 0) return { ok: false, failed };
  return { ok: true, forgotten: Object.fromEntries(results) as Record<string, number> };
}
