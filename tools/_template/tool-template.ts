// What the tool_template tool does, free of HTTP so it is easy to test: statistics of a text.
// Replace it with your tool's logic. Expected failures throw ToolError (from the kit) with a message
// written for the model.

import type { ToolTemplateBindings } from "./worker-configuration.js";

/** This Worker's bindings, generated from its wrangler.toml by `npm run types`. */
export type ToolTemplateEnv = ToolTemplateBindings;

export interface TextStats {
  /** User-perceived characters (grapheme clusters): 👍🏽 is one. */
  characters: number;
  words: number;
  unique_words: number;
  sentences: number;
  lines: number;
  /** The most frequent words, lowercased, most frequent first (ties alphabetically). */
  top_words: Array<{ word: string; count: number }>;
}

export function textStats({ text, top }: { text: string; top: number }, _env: ToolTemplateEnv): TextStats {
  const segments = (granularity: "grapheme" | "word" | "sentence") => [...new Intl.Segmenter("en", { granularity }).segment(text)];
  const words = segments("word")
    .filter((segment) => segment.isWordLike)
    .map((segment) => segment.segment.toLowerCase());
  const counts = new Map<string, number>();
  for (const word of words) counts.set(word, (counts.get(word) ?? 0) + 1);
  const topWords = [...counts]
    .sort(([left, leftCount], [right, rightCount]) => rightCount - leftCount || (left < right ? -1 : left > right ? 1 : 0))
    .slice(0, top)
    .map(([word, count]) => ({ word, count }));
  return {
    characters: segments("grapheme").length,
    words: words.length,
    unique_words: counts.size,
    sentences: segments("sentence").filter((segment) => segment.segment.trim() !== "").length,
    lines: text.split(/\r\n|\r|\n/).length,
    top_words: topWords,
  };
}
