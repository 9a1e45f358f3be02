// The orchestrator's own bundle behind a thin wrapper that counts what each turn asks of the platform
// (lib/counters.mjs): KV operations on CONVERSATIONS, Durable Object calls (LEDGER, CONVERSATION_HOME, CONVERSATION_DIRECTORY), service-binding calls
// to tool Workers, outbound fetches (the model). Only the bench's cost accounting runs through it;
// latency is measured on the unwrapped orchestrator.
//
//   GET  /__counts               -> {"kv:CONVERSATIONS.put": {"total": n, "onAnswerPath": n}, ...}
//   POST /__counts/reset?delay=ms -> 204 (and every KV / Durable Object call waits `ms` from now on)
//   anything else                -> the orchestrator, its bindings counted

import orchestrator, { Ledger as BundledLedger } from "../../dist/switchboard/index.js";
import { countedDurableObjects, countedKv, countedService, counts, resetCounts, setAnswering, setDelay } from "./lib/counters.mjs";

export * from "../../dist/switchboard/index.js";

/** The orchestrator's env with every binding it calls over the network wrapped. */
function countedEnv(env) {
  const wrapped = { ...env };
  for (const [name, value] of Object.entries(env)) {
    if (name === "CONVERSATIONS") wrapped[name] = countedKv(value, name);
    else if (name === "LEDGER" || name.startsWith("CONVERSATION_")) wrapped[name] = countedDurableObjects(value, name);
    else if (/^(TOOL|MCP)_/.test(name) && value && typeof value.fetch === "function") wrapped[name] = countedService(value, name);
  }
  return wrapped;
}

/** The journal's KV writes happen in the ledger, behind the answer: counted there, on the same counters. */
export class Ledger extends BundledLedger {
  constructor(ctx, env) {
    super(ctx, { ...env, CONVERSATIONS: countedKv(env.CONVERSATIONS, "CONVERSATIONS", { background: true }) });
  }
}

export default {
  ...orchestrator,
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/__counts") return Response.json(counts);
    if (url.pathname === "/__counts/reset") {
      resetCounts();
      setDelay(Number(url.searchParams.get("delay") ?? 0));
      return new Response(null, { status: 204 });
    }
    // Calls (turns) are sequential while counting, so one flag says whether the answer is pending.
    setAnswering(true);
    try {
      const response = await orchestrator.fetch(request, countedEnv(env), ctx);
      // A JSON answer is complete when the handler returns it: read it here so nothing still
      // streaming into the body counts as after the answer.
      const body = await response.arrayBuffer();
      return new Response(body, response);
    } finally {
      setAnswering(false);
    }
  },
};
