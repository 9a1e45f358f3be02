// Values too large for one SQLite row (a Durable Object's row holds at most 2 MB) kept as several:
// the text is encoded to UTF-8 once and cut into byte ranges, so a cut never splits a character in
// a way that could survive (the parts are joined before they are decoded).

const PART_BYTES = 1_000_000;

export const PARTS_TABLE = `CREATE TABLE IF NOT EXISTS parts (
  owner TEXT NOT NULL,
  part INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (owner, part)
)`;

export function putParts(sql: SqlStorage, owner: string, text: string): number {
  deleteParts(sql, owner);
  const bytes = new TextEncoder().encode(text);
  for (let offset = 0, part = 0; offset < bytes.byteLength || part === 0; offset += PART_BYTES, part++) {
    sql.exec("INSERT INTO parts (owner, part, data) VALUES (?, ?, ?)", owner, part, bytes.slice(offset, offset + PART_BYTES).buffer);
  }
  return bytes.byteLength;
}

export function getParts(sql: SqlStorage, owner: string): string | null {
  const rows = sql.exec<{ data: ArrayBuffer }>("SELECT data FROM parts WHERE owner = ? ORDER BY part", owner).toArray();
  if (rows.length === 0) return null;
  if (rows.length === 1) return new TextDecoder().decode(rows[0]?.data);
  const whole = new Uint8Array(rows.reduce((sum, row) => sum + row.data.byteLength, 0));
  let offset = 0;
  for (const row of rows) {
    whole.set(new Uint8Array(row.data), offset);
    offset += row.data.byteLength;
  }
  return new TextDecoder().decode(whole);
}

export function deleteParts(sql: SqlStorage, owner: string): void {
  sql.exec("DELETE FROM parts WHERE owner = ?", owner);
}
