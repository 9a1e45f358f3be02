// Adds array-of-tables blocks (`[[services]]`, `[[env.staging.services]]`) to a wrangler.toml as text,
// so its comments and layout survive (wrangler's experimental_patchConfig refuses TOML with comments).
// A block goes right after the last block with the same header; callers re-read the result with
// wrangler's parser before writing it.

const HEADER = /^\s*\[\[?\s*([A-Za-z0-9_.\-"]+)\s*\]\]?\s*(#.*)?$/;
const BLANK_OR_COMMENT = /^\s*(#.*)?$/;

/** The table path of a header line (`[[env.staging.services]]` → `env.staging.services`), or null. */
function headerOf(line) {
  const match = HEADER.exec(line);
  return match ? match[1].replaceAll('"', "") : null;
}

/** Index just past the key lines of the table whose header is at `start` (trailing comments and blanks excluded). */
function endOfTable(lines, start) {
  let end = start + 1;
  while (end < lines.length && headerOf(lines[end]) === null) end++;
  // Comments and blank lines right before the next header introduce that table, not this one.
  while (end > start + 1 && BLANK_OR_COMMENT.test(lines[end - 1])) end--;
  return end;
}

/** Index just past the last content line before the first header accepted by `test` (its comments excluded), or -1. */
function beforeFirst(lines, test) {
  const index = lines.findIndex((line) => {
    const header = headerOf(line);
    return header !== null && test(header);
  });
  if (index < 0) return -1;
  let start = index;
  while (start > 0 && BLANK_OR_COMMENT.test(lines[start - 1])) start--;
  return start;
}

/**
 * Inserts `body` (key lines) as a new `[[<table>]]` block. `scope` is the environment the table lives
 * in (null for the top level): with no block of that table yet, a top-level one goes before the first
 * `[env.*]` table and an environment's one after that environment's last table.
 * @param {string} text
 * @param {string} table e.g. "services" or "env.staging.services"
 * @param {string[]} body e.g. ['binding = "TOOL_X"', 'service = "switchboard-tool-x"']
 * @param {string | null} scope
 */
export function addArrayTable(text, table, body, scope = null) {
  const newline = text.includes("\r\n") ? "\r\n" : "\n";
  const lines = text.split(/\r?\n/);
  const block = [`[[${table}]]`, ...body];
  let last = -1;
  lines.forEach((line, index) => {
    if (headerOf(line) === table && line.trim().startsWith("[[")) last = index;
  });
  if (last >= 0) {
    const end = endOfTable(lines, last);
    lines.splice(end, 0, "", ...block);
  } else if (scope === null) {
    const envStart = beforeFirst(lines, (header) => header === "env" || header.startsWith("env."));
    if (envStart >= 0) {
      lines.splice(envStart, 0, "", ...block);
    } else {
      appendBlock(lines, block);
    }
  } else {
    let lastOfEnv = -1;
    lines.forEach((line, index) => {
      const header = headerOf(line);
      if (header === `env.${scope}` || header?.startsWith(`env.${scope}.`)) lastOfEnv = index;
    });
    if (lastOfEnv >= 0) {
      lines.splice(endOfTable(lines, lastOfEnv), 0, "", ...block);
    } else {
      appendBlock(lines, block);
    }
  }
  return lines.join(newline);
}

function appendBlock(lines, block) {
  while (lines.length > 0 && lines[lines.length - 1].trim() === "") lines.pop();
  lines.push("", ...block, "");
}

/**
 * Removes every `[[...]]` array-table block for which `matches(header, keyLines)` holds, with the blank
 * line that separates it from what comes before: the inverse of addArrayTable.
 * @param {string} text
 * @param {(table: string, body: string[]) => boolean} matches
 * @returns {{ text: string, removed: number }}
 */
export function removeArrayTables(text, matches) {
  const newline = text.includes("\r\n") ? "\r\n" : "\n";
  const lines = text.split(/\r?\n/);
  let removed = 0;
  for (let index = lines.length - 1; index >= 0; index--) {
    const table = headerOf(lines[index]);
    if (table === null || !lines[index].trim().startsWith("[[")) continue;
    const end = endOfTable(lines, index);
    if (!matches(table, lines.slice(index + 1, end))) continue;
    const start = index > 0 && lines[index - 1].trim() === "" ? index - 1 : index;
    lines.splice(start, end - start);
    removed++;
  }
  return { text: lines.join(newline), removed };
}
