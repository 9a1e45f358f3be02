// A model port that keeps a key's budgets: before each call it reserves, in the key's object, the
// most the call can cost (its prompt's bytes, its output cap clamped to what the budgets have left)
// and sends the call with that cap; after it, the reservation is settled to the usage the upstream
// reported. The loop and the doors see an ordinary model port.

import type { ModelCallOptions, ModelPort, StreamListener } from "../loop/model-port.js";
import type { ChatCompletion, ChatCompletionRequest } from "../protocol/types.js";
import type { Reservation, ReserveRequest, Settlement } from "./key-home.js";
import type { ModelPrice, PriceTable } from "./pricing.js";
import { cachedTokens, costOf, dearest } from "./pricing.js";

export interface Budget {
  reserve(request: ReserveRequest): Promise<Reservation>;
  settle(id: string, settlement: Settlement): Promise<void>;
  unreserve(id: string): Promise<void>;
}

export interface BudgetOptions {
  /** False for a key without token or spend limits: its usage is recorded after each call, nothing is reserved before. */
  reserve: boolean;
  prices: PriceTable;
  allowUnpriced: boolean;
  fallbackModels: readonly string[];
  /** The output cap of a call that names none (MAX_OUTPUT_TOKENS). */
  maxOutputTokens: number;
  holdMs: number;
}

/** A budget refused the call: `tokens` (429 rate_limit_exceeded) or `spend` (429 insufficient_quota). */
export class BudgetRefusedError extends Error {
  constructor(
    readonly kind: "tokens" | "spend",
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
    this.name = "BudgetRefusedError";
  }
}

/** A spend limit cannot count a model it has no price for: refused, unless the operator allows it. */
export class ModelNotPricedError extends Error {
  constructor(readonly model: string) {
    super(`The model '${model}' has no price in MODEL_PRICES, and this key has a spend limit: it cannot be used with this key.`);
    this.name = "ModelNotPricedError";
  }
}

/** The price of the model that answered: its own, else the one asked for (upstreams answer with a dated snapshot of it). */
function priceOf(prices: PriceTable, completion: ChatCompletion, asked: string): ModelPrice | null {
  return prices[completion.model] ?? prices[asked] ?? null;
}

/** What the call cost, from the usage the upstream reported (null without it: the reservation counts). */
function settlementOf(completion: ChatCompletion, asked: string, price: ModelPrice | null): Settlement {
  const usage = completion.usage;
  return {
    model: completion.model || asked,
    usage: usage ? { input: usage.prompt_tokens, cached: cachedTokens(usage), output: usage.completion_tokens, usd: price ? costOf(price, usage) : 0 } : null,
  };
}

export function budgetedModel(model: ModelPort, budget: Budget, options: BudgetOptions): ModelPort {
  const call = async (request: ChatCompletionRequest, run: (capped: ChatCompletionRequest) => Promise<ChatCompletion>): Promise<ChatCompletion> => {
    if (!options.reserve) {
      const completion = await run(request);
      await budget.settle("", settlementOf(completion, request.model, priceOf(options.prices, completion, request.model)));
      return completion;
    }
    const models = [request.model, ...options.fallbackModels.filter((name) => name !== request.model)];
    const price = dearest(options.prices, models);
    if (!price && !options.allowUnpriced) throw new ModelNotPricedError(models.find((name) => !options.prices[name]) ?? request.model);
    const capName = request.max_tokens !== undefined && request.max_completion_tokens === undefined ? "max_tokens" : "max_completion_tokens";
    const asked = Number(request[capName] ?? options.maxOutputTokens);
    const promptBytes = new TextEncoder().encode(JSON.stringify({ messages: request.messages, tools: request.tools ?? [] })).byteLength;
    const held = await budget.reserve({ promptBytes, maxOutput: asked, price, holdMs: options.holdMs });
    if (held.status === "revoked") throw new BudgetRefusedError("spend", "This API key was revoked: no further model call starts.", 0);
    if (held.status === "refused") throw new BudgetRefusedError(held.kind, held.message, held.retryAfterMs);
    let completion: ChatCompletion;
    try {
      completion = await run({ ...request, [capName]: held.maxOutput });
    } catch (error) {
      await budget.unreserve(held.id).catch(() => undefined);
      throw error;
    }
    await budget.settle(held.id, settlementOf(completion, request.model, priceOf(options.prices, completion, request.model) ?? price));
    return completion;
  };
  return {
    defaultModel: model.defaultModel,
    complete: (request: ChatCompletionRequest, callOptions?: ModelCallOptions) => call(request, (capped) => model.complete(capped, callOptions)),
    stream: (request: ChatCompletionRequest, listener: StreamListener, callOptions?: ModelCallOptions) =>
      call(request, (capped) => model.stream(capped, listener, callOptions)),
  };
}
