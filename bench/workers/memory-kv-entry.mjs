// The orchestrator's own bundle with CONVERSATIONS replaced by an in-memory KV (lib/memory-kv.mjs).
// Two uses in the bench: the matched pair (the orchestrator against the AI SDK peer, which stores each
// turn in the same kind of store, and the tool round trip measured between two requests to this
// Worker), and the diagnostic that separates Miniflare's local KV simulator (SQLite and blob files, in
// the same workerd) from the orchestrator's own work.
import orchestrator, { Ledger as BundledLedger } from "../../dist/switchboard/index.js";
import { MemoryKV } from "./lib/memory-kv.mjs";

// Whatever else the orchestrator exports (entrypoints, Durable Object classes) stays reachable.
export * from "../../dist/switchboard/index.js";

const kv = new MemoryKV();

/** The ledger writes committed turns to KV behind the answer: to the same in-memory KV the Worker reads. */
export class Ledger extends BundledLedger {
  constructor(ctx, env) {
    super(ctx, { ...env, CONVERSATIONS: kv });
  }
}

export default {
  ...orchestrator,
  fetch(request, env, ctx) {
    return orchestrator.fetch(request, { ...env, CONVERSATIONS: kv }, ctx);
  },
};
