// What a model call costs, from the operator's price table (MODEL_PRICES: USD per million tokens,
// `{"gpt-5-mini": {"input": 0.25, "cached_input": 0.025, "output": 2.0}}`), and the most a call can
// cost before it is made: what a budget reserves. A prompt's tokens are bounded by its UTF-8 bytes
// (no tokenizer makes a token of less than a byte), so the bound holds for every model.

import type { Usage } from "../protocol/types.js";
import { isJsonObject } from "../protocol/types.js";

export interface ModelPrice {
  /** USD per million tokens. */
  input: number;
  cached_input: number;
  output: number;
}

export type PriceTable = Record<string, ModelPrice>;

/** The table, or the problem with it (for the ConfigError naming MODEL_PRICES). */
export function parsePrices(raw: string | undefined): PriceTable | string {
  if (raw === undefined || raw.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return "a JSON object of model names to {input, cached_input?, output} in USD per million tokens";
  }
  if (!isJsonObject(value)) return "a JSON object of model names to {input, cached_input?, output} in USD per million tokens";
  const table: PriceTable = {};
  for (const [model, price] of Object.entries(value)) {
    const fine = (field: unknown) => typeof field === "number" && Number.isFinite(field) && field >= 0;
    if (!isJsonObject(price) || !fine(price.input) || !fine(price.output) || (price.cached_input !== undefined && !fine(price.cached_input))) {
      return `a JSON object of model names to prices; ${JSON.stringify(model).slice(0, 80)} needs input and output (and optionally cached_input) as non-negative numbers`;
    }
    table[model] = {
      input: price.input as number,
      output: price.output as number,
      cached_input: (price.cached_input as number | undefined) ?? (price.input as number),
    };
  }
  return table;
}

/** The cost of a call as the upstream reported its usage. */
export function costOf(price: ModelPrice, usage: Usage): number {
  const cached = cachedTokens(usage);
  return ((usage.prompt_tokens - cached) * price.input + cached * price.cached_input + usage.completion_tokens * price.output) / 1_000_000;
}

export function cachedTokens(usage: Usage): number {
  const details = usage.prompt_tokens_details;
  const cached = isJsonObject(details) ? details.cached_tokens : 0;
  return typeof cached === "number" ? cached : 0;
}

/** The price to reserve at: each part at its dearest among the models that may answer (the requested one and its fallbacks); null when one has no price. */
export function dearest(table: PriceTable, models: readonly string[]): ModelPrice | null {
  const prices = models.map((model) => table[model]);
  if (prices.length === 0 || prices.some((price) => price === undefined)) return null;
  const known = prices as ModelPrice[];
  const most = (part: keyof ModelPrice) => Math.max(...known.map((price) => price[part]));
  return { input: most("input"), cached_input: most("cached_input"), output: most("output") };
}
