// The journal's side inside a ledger object: KV writes committed here, then written to KV by the
// object's alarm, retried until they land. A committed write is in the object's transactional
// storage before `commit` answers, so a turn the client saw survives the Worker that ran it.
//
// A written entry is kept a minute more and still returned to readers: a KV list made while its put
// was under way may not show it, and KV caches what a location read (a miss included) for up to a
// minute, so a reader there could otherwise be told by its cache that a just-written key is not there.
//
// Values are split into parts: a Durable Object's SQLite row holds at most 2 MB, a conversation
// snapshot may be larger.

import type { KvWrite, KvWriteMetadata, PendingWrite } from "../conversations/kv-writes.js";
import { applyKvWrite } from "../conversations/kv-writes.js";

/** Characters per stored part: under 2 MB of UTF-8 even when every character takes 3 bytes. */
const PART_CHARS = 512 * 1024;
/** A failed KV write is retried after 1 s, doubling, at most this far apart; it is never dropped. */
const MAX_RETRY_DELAY_MS = 60_000;
/** How long a written entry is still handed to readers: KV's cache time in a location (60 s). */
export const KEEP_WRITTEN_MS = 60_000;
/** KV writes in flight at once while a batch is written. */
const FLUSH_CONCURRENCY = 4;

/** Every column of a journal row but the value, which is read from its parts only when needed. */
const ROW_COLUMNS = "seq, key, metadata, ttl, supersedes, attempts, kept_until";

interface JournalRow {
  seq: number;
  key: string;
  metadata: string;
  ttl: number;
  supersedes: string;
  attempts: number;
  kept_until: number | null;
  [column: string]: SqlStorageValue;
}

export class JournalTable {
  /** Keys being written to KV right now: `forget` waits for them, so a delete that follows wins. */
  private readonly flushing = new Map<string, Promise<unknown>>();

  private ready = false;

  constructor(private readonly storage: DurableObjectStorage) {}

  private get sql(): SqlStorage {
    if (!this.ready) {
      this.storage.sql.exec(
        `CREATE TABLE IF NOT EXISTS journal (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          key TEXT NOT NULL UNIQUE,
          metadata TEXT NOT NULL,
          ttl INTEGER NOT NULL,
          supersedes TEXT NOT NULL,
          attempts INTEGER NOT NULL DEFAULT 0,
          next_at INTEGER NOT NULL,
          kept_until INTEGER
        );
        CREATE INDEX IF NOT EXISTS journal_due ON journal (next_at) WHERE kept_until IS NULL;
        CREATE INDEX IF NOT EXISTS journal_kept ON journal (kept_until) WHERE kept_until IS NOT NULL;
        CREATE TABLE IF NOT EXISTS journal_parts (
          seq INTEGER NOT NULL,
          part INTEGER NOT NULL,
          text TEXT NOT NULL,
          PRIMARY KEY (seq, part)
        )`,
      );
      this.ready = true;
    }
    return this.storage.sql;
  }

  /** The storage was emptied (the object had nothing left): tables are created again on next use. */
  reset(): void {
    this.ready = false;
  }

  /**
   * Records the write (replacing an earlier one of the same key); the caller schedules the flush.
   * Statements with no await between them are committed together, and the call answers only then.
   */
  commit(write: KvWrite): void {
    const sql = this.sql;
    this.dropKey(write.key);
    const seq = sql
      .exec<{ seq: number }>(
        "INSERT INTO journal (key, metadata, ttl, supersedes, next_at) VALUES (?, ?, ?, ?, ?) RETURNING seq",
        write.key,
        JSON.stringify(write.metadata),
        write.expirationTtl,
        JSON.stringify(write.supersedes),
        Date.now(),
      )
      .one().seq;
    const { value } = write;
    for (let part = 0, start = 0; start < value.length || part === 0; part++) {
      let end = Math.min(value.length, start + PART_CHARS);
      // Never between the two halves of a surrogate pair: a lone half is stored as U+FFFD.
      if (end < value.length && isHighSurrogate(value.charCodeAt(end - 1))) end--;
      sql.exec("INSERT INTO journal_parts (seq, part, text) VALUES (?, ?, ?)", seq, part, value.slice(start, end));
      start = end;
    }
  }

  /** Entries under `prefix` not yet in KV or written within KEEP_WRITTEN_MS, less those another of them supersedes. */
  pending(prefix: string): PendingWrite[] {
    const rows = this.rowsUnder(prefix);
    const superseded = new Set(rows.flatMap((row) => JSON.parse(row.supersedes) as string[]));
    return rows
      .filter((row) => !superseded.has(row.key))
      .map((row) => ({ key: row.key, value: this.valueOf(row.seq), metadata: JSON.parse(row.metadata) as KvWriteMetadata }));
  }

  /** Drops the entries under `prefix` (only `key`'s when given), written or not, once no write of theirs is under way; answers their keys. */
  async forget(prefix: string, key?: string): Promise<string[]> {
    const held = (name: string) => (key === undefined ? name.startsWith(prefix) : name === key);
    const rows = this.rowsUnder(prefix).filter((row) => held(row.key));
    this.storage.transactionSync(() => {
      for (const row of rows) this.dropSeq(row.seq);
    });
    await Promise.allSettled([...this.flushing].filter(([name]) => held(name)).map(([, flush]) => flush));
    return rows.map((row) => row.key);
  }

  /** When there is next something to do (a write due, a kept entry to let go), or null when the journal is empty. */
  nextDue(): number | null {
    const due = this.sql.exec<{ next: number | null }>("SELECT MIN(next_at) AS next FROM journal WHERE kept_until IS NULL").one().next;
    const kept = this.sql.exec<{ next: number | null }>("SELECT MIN(kept_until) AS next FROM journal WHERE kept_until IS NOT NULL").one().next;
    return due === null ? kept : kept === null ? due : Math.min(due, kept);
  }

  /** Lets go of written entries kept past KEEP_WRITTEN_MS. */
  dropExpired(now = Date.now()): void {
    const expired = this.sql.exec<{ seq: number }>("SELECT seq FROM journal WHERE kept_until IS NOT NULL AND kept_until <= ?", now).toArray();
    this.storage.transactionSync(() => {
      for (const row of expired) this.dropSeq(row.seq);
    });
  }

  /**
   * Writes every due entry to KV. A write that a later one in the same batch supersedes is never
   * written: the later one carries its deletes. An entry is marked written only once KV has it.
   */
  async flush(kv: KVNamespace, now = Date.now()): Promise<void> {
    await this.write(kv, this.sql.exec<JournalRow>(`SELECT ${ROW_COLUMNS} FROM journal WHERE kept_until IS NULL AND next_at <= ? ORDER BY seq`, now).toArray());
  }

  /** Writes every entry under `prefix` that KV has not got yet, now, whenever it was due. */
  async flushUnder(kv: KVNamespace, prefix: string): Promise<void> {
    await this.write(
      kv,
      this.rowsUnder(prefix).filter((row) => row.kept_until === null),
    );
  }

  private async write(kv: KVNamespace, rows: JournalRow[]): Promise<void> {
    const writes = new Map<string, { row: JournalRow; write: KvWrite; seqs: number[] }>();
    for (const row of rows) {
      const supersedes: string[] = JSON.parse(row.supersedes);
      const write: KvWrite = { key: row.key, value: "", metadata: JSON.parse(row.metadata), expirationTtl: row.ttl, supersedes };
      const seqs = [row.seq];
      for (const parent of supersedes) {
        const skipped = writes.get(parent);
        if (!skipped) continue;
        writes.delete(parent);
        seqs.push(...skipped.seqs);
        write.supersedes = [...new Set([...write.supersedes, ...skipped.write.supersedes])].filter((key) => key !== row.key);
      }
      writes.set(row.key, { row, write, seqs });
    }
    // A few at a time: a batch is many writes, and KV is better spared a burst (so is the thread, locally).
    const queue = [...writes.values()];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await this.writeOne(kv, next);
    };
    await Promise.all(Array.from({ length: Math.min(FLUSH_CONCURRENCY, queue.length) }, worker));
  }

  private async writeOne(kv: KVNamespace, { row, write, seqs }: { row: JournalRow; write: KvWrite; seqs: number[] }): Promise<void> {
    // One write of a key at a time, in commit order: the alarm and a listing's flush can both reach
    // it, and a second put while the first is under way could land after a forget that waited only for one.
    for (let earlier = this.flushing.get(row.key); earlier; earlier = this.flushing.get(row.key)) await earlier.catch(() => undefined);
    // Forgotten (its conversation deleted) while it waited its turn, or written meanwhile: it must not land now.
    const current = this.sql.exec<{ kept_until: number | null }>("SELECT kept_until FROM journal WHERE seq = ?", row.seq).toArray()[0];
    if (!current || current.kept_until !== null) return;
    write.value = this.valueOf(row.seq);
    const flush = applyKvWrite(kv, write);
    this.flushing.set(row.key, flush);
    try {
      await flush;
      const keptUntil = Date.now() + KEEP_WRITTEN_MS;
      this.storage.transactionSync(() => {
        this.sql.exec("UPDATE journal SET kept_until = ? WHERE seq = ?", keptUntil, row.seq);
        // Entries it superseded were never written: nothing of theirs is left to show.
        for (const seq of seqs.slice(1)) this.dropSeq(seq);
      });
    } catch (error) {
      const attempts = row.attempts + 1;
      const delay = Math.min(MAX_RETRY_DELAY_MS, 1_000 * 2 ** (attempts - 1));
      this.sql.exec("UPDATE journal SET attempts = ?, next_at = ? WHERE seq = ?", attempts, Date.now() + delay, row.seq);
      console.error(JSON.stringify({ level: "error", event: "journal_write_failed", key: row.key, attempts, retry_in_ms: delay, message: String(error) }));
    } finally {
      if (this.flushing.get(row.key) === flush) this.flushing.delete(row.key);
    }
  }

  private rowsUnder(prefix: string): JournalRow[] {
    return (
      this.sql
        // A range on the key's index: every key that starts with the prefix sorts between these two.
        .exec<JournalRow>(`SELECT ${ROW_COLUMNS} FROM journal WHERE key >= ? AND key < ? ORDER BY seq`, prefix, `${prefix}\uffff`)
        .toArray()
    );
  }

  private valueOf(seq: number): string {
    return this.sql
      .exec<{ text: string }>("SELECT text FROM journal_parts WHERE seq = ? ORDER BY part", seq)
      .toArray()
      .map((part) => part.text)
      .join("");
  }

  private dropKey(key: string): void {
    const row = this.sql.exec<{ seq: number }>("SELECT seq FROM journal WHERE key = ?", key).toArray()[0];
    if (row) this.dropSeq(row.seq);
  }

  private dropSeq(seq: number): void {
    this.sql.exec("DELETE FROM journal_parts WHERE seq = ?", seq);
    this.sql.exec("DELETE FROM journal WHERE seq = ?", seq);
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
