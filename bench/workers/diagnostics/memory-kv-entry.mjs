// Diagnostic only: the orchestrator's bundle with CONVERSATIONS replaced by an in-memory KV (a Map in
// the isolate), to separate Miniflare's local KV simulator from the orchestrator's own work.
// With QUIET_LOGS="on", console.log/info are no-ops too (to see what the per-request log lines cost).
import orchestrator from "../../../dist/switchboard/index.js";

class MemoryKV {
  #entries = new Map();
  async get(key, type) {
    const entry = this.#entries.get(key);
    if (!entry) return null;
    const options = typeof type === "object" ? type : { type };
    return options?.type === "json" ? JSON.parse(entry.value) : entry.value;
  }
  async getWithMetadata(key, type) {
    const entry = this.#entries.get(key);
    return { value: entry ? await this.get(key, type) : null, metadata: entry?.metadata ?? null };
  }
  async put(key, value, options = {}) {
    this.#entries.set(key, { value: String(value), metadata: options.metadata ?? null });
  }
  async delete(key) {
    this.#entries.delete(key);
  }
  async list({ prefix = "" } = {}) {
    const keys = [];
    for (const [name, entry] of this.#entries) if (name.startsWith(prefix)) keys.push({ name, metadata: entry.metadata ?? undefined });
    keys.sort((a, b) => (a.name < b.name ? -1 : 1));
    return { keys, list_complete: true, cacheStatus: null };
  }
}

const kv = new MemoryKV();
const quiet = () => undefined;

export default {
  fetch(request, env, ctx) {
    if (env.QUIET_LOGS === "on") {
      console.log = quiet;
      console.info = quiet;
    }
    return orchestrator.fetch(request, { ...env, CONVERSATIONS: kv }, ctx);
  },
};
