// Limits on the shape of a JSON body, checked on the raw text before it is parsed: nesting deeper
// than any real request (10,000 levels fit in 60 KB) would overflow the stack of whatever walks it
// later, after the model was already paid for; one huge string is refused before it is copied.
// The scan is a single loop without recursion, so hostile input cannot exhaust the stack here.

import { invalidRequest } from "../errors.js";

export interface JsonLimits {
  maxJsonDepth: number;
  /** Longest string value or key, in characters as written (escapes count as written). */
  maxStringChars: number;
}

export type JsonLimitViolation = { limit: "depth"; max: number } | { limit: "string"; max: number };

const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The first limit the text breaks, or null. Invalid JSON is left for JSON.parse to report. */
export function findJsonLimitViolation(text: string, limits: JsonLimits): JsonLimitViolation | null {
  let depth = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code === QUOTE) {
      const start = index;
      for (index++; index < text.length; index++) {
        const inner = text.charCodeAt(index);
        if (inner === BACKSLASH) index++;
        else if (inner === QUOTE) break;
      }
      if (index - start - 1 > limits.maxStringChars) return { limit: "string", max: limits.maxStringChars };
    } else if (code === OPEN_OBJECT || code === OPEN_ARRAY) {
      depth++;
      if (depth > limits.maxJsonDepth) return { limit: "depth", max: limits.maxJsonDepth };
    } else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) {
      depth--;
    }
  }
  return null;
}

/** JSON.parse behind the limits: a 400 that names the limit, or the parsed value. */
export function parseJsonWithin(text: string, limits: JsonLimits, what = "The request body"): unknown {
  const violation = findJsonLimitViolation(text, limits);
  if (violation?.limit === "depth") {
    throw invalidRequest(`${what} nests JSON deeper than ${violation.max} levels (MAX_JSON_DEPTH).`, null, "json_too_deep");
  }
  if (violation?.limit === "string") {
    throw invalidRequest(`${what} holds a JSON string longer than ${violation.max} characters (MAX_STRING_CHARS).`, null, "string_too_long");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw invalidRequest(`${what} is not valid JSON.`, null, "invalid_json");
  }
}
