// An in-memory stand-in for a Workers KV namespace (Maps in the isolate): the same calls, no SQLite, no
// blob files, nothing shared with other Workers or kept past the isolate, no eventual consistency.
// Used where the bench needs a store that costs (almost) nothing, on both sides of a matched pair.

/** Keys grouped by "directory" (up to the last "/"), so a list by conversation prefix is one lookup. */
export class MemoryKV {
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
