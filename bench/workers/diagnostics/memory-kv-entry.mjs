// Diagnostic only (bench scenario 3m): the orchestrator's own bundle with CONVERSATIONS replaced by an
// in-memory KV (Maps in the isolate), to separate the cost of Miniflare's local KV simulator (SQLite and
// blob files, in the same workerd) from the orchestrator's own work. Same calls, same data; nothing
// persists beyond the isolate, and there is no eventual consistency to speak of.
import orchestrator from "../../../dist/switchboard/index.js";

export * from "../../../dist/switchboard/index.js";

/** Keys grouped by "directory" (up to the last "/"), so a list by conversation prefix is one lookup. */
class MemoryKV {
  #directories = new Map();
  #split(key) {
    const cut = key.lastIndexOf("/") + 1;
    return [key.slice(0, cut), key.slice(cut)];
  }
  #entry(key) {
    const [directory, name] = this.#split(key);
    return this.#directories.get(directory)?.get(name);
  }
  async get(key, type) {
    const entry = this.#entry(key);
    if (!entry) return null;
    const kind = typeof type === "object" ? type?.type : type;
    return kind === "json" ? JSON.parse(entry.value) : entry.value;
  }
  async getWithMetadata(key, type) {
    const entry = this.#entry(key);
    return { value: entry ? await this.get(key, type) : null, metadata: entry?.metadata ?? null };
  }
  async put(key, value, options = {}) {
    const [directory, name] = this.#split(key);
    if (!this.#directories.has(directory)) this.#directories.set(directory, new Map());
    this.#directories.get(directory).set(name, { value: String(value), metadata: options.metadata ?? null });
  }
  async delete(key) {
    const [directory, name] = this.#split(key);
    this.#directories.get(directory)?.delete(name);
  }
  async list({ prefix = "" } = {}) {
    const keys = [];
    const add = (directory, entries) => {
      for (const [name, entry] of entries) {
        if ((directory + name).startsWith(prefix)) keys.push({ name: directory + name, ...(entry.metadata ? { metadata: entry.metadata } : {}) });
      }
    };
    if (prefix.endsWith("/")) add(prefix, this.#directories.get(prefix) ?? []);
    else for (const [directory, entries] of this.#directories) if (directory.startsWith(prefix) || prefix.startsWith(directory)) add(directory, entries);
    keys.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { keys, list_complete: true, cacheStatus: null };
  }
}

const kv = new MemoryKV();

export default {
  ...orchestrator,
  fetch(request, env, ctx) {
    return orchestrator.fetch(request, { ...env, CONVERSATIONS: kv }, ctx);
  },
};
