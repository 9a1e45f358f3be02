// The list of keys made through the admin API: one object for the deployment, mapping each key's id
// to the name of its object (the key's hash). The keys themselves, their limits and whether they are
// revoked live in their own objects (key-home.ts); this is only how the admin API finds them.

import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.js";

export interface RegistryEntry {
  id: string;
  hash: string;
  created_at: number;
}

export class KeyRegistry extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS keys (id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL)");
  }

  async add(entry: RegistryEntry): Promise<void> {
    this.sql.exec("INSERT INTO keys (id, hash, created_at) VALUES (?, ?, ?)", entry.id, entry.hash, entry.created_at);
  }

  async find(id: string): Promise<RegistryEntry | null> {
    return this.sql.exec<RegistryEntry & Record<string, SqlStorageValue>>("SELECT * FROM keys WHERE id = ?", id).toArray()[0] ?? null;
  }

  /** Oldest first, after `after` (an id), at most `limit`. */
  async list(limit: number, after: string | null): Promise<{ entries: RegistryEntry[]; has_more: boolean }> {
    const anchor = after ? this.sql.exec<{ created_at: number }>("SELECT created_at FROM keys WHERE id = ?", after).toArray()[0] : undefined;
    const rows = anchor
      ? this.sql
          .exec<RegistryEntry & Record<string, SqlStorageValue>>(
            "SELECT * FROM keys WHERE created_at > ? OR (created_at = ? AND id > ?) ORDER BY created_at, id LIMIT ?",
            anchor.created_at,
            anchor.created_at,
            after,
            limit + 1,
          )
          .toArray()
      : this.sql.exec<RegistryEntry & Record<string, SqlStorageValue>>("SELECT * FROM keys ORDER BY created_at, id LIMIT ?", limit + 1).toArray();
    return { entries: rows.slice(0, limit), has_more: rows.length > limit };
  }
}
