// A model port that meters a managed key's calls: before each call it asks the key's object (which
// refuses a revoked key, and under a budget reserves the most the call can cost: its prompt's bytes,
// its output cap clamped to what the budgets have left, sent with the call); after it, the usage the
// upstream reported is settled there. The loop and the doors see an ordinary model port.

import type { ModelCallOptions, ModelPort, StreamListener } from "../loop/model-port.js";
import type { ChatCompletion, ChatCompletionRequest } from "../protocol/types.js";
import { UpstreamError } from "../upstream/upstream-error.js";
import type { Reservation, ReserveRequest, Settlement } from "./key-home.js";
import type { ModelPrice, PriceTable } from "./pricing.js";
import { cachedTokens, costOf, dearest } from "./pricing.js";

export interface Budget {
  reserve(request: ReserveRequest): Promise<Reservation>;
  settle(id: string, settlement: Settlement): Promise<void>;
  unreserve(id: string): Promise<void>;
}

export interface BudgetOptions {
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

/** The key was revoked while its turn ran: the turn may finish what it started, but no new model call starts. */
export class KeyRevokedError extends Error {
  constructor() {
    super("This API key was revoked: no further model call starts.");
    this.name = "KeyRevokedError";
  }
}

/** A spend limit cannot count a model it has no price for: refused, unless the operator allows it. */
export class ModelNotPricedError extends Error {
  constructor(readonly model: string) {
    super(`The model '${model}' has no price in MODEL_PRICES, and this key has a spend limit: it cannot be used with this key.`);
    this.name = "ModelNotPricedError";
  }
}

/** What an image is reserved at: more than a high-detail image costs on the models DMXAPI serves (OpenAI's tile count tops out near 1,500). */
export const IMAGE_TOKENS = 3_000;

/**
 * At least the prompt's tokens: its bytes as JSON (messages, tools, response format; no tokenizer
 * makes a token of less than a byte, and JSON's quoting only adds bytes), plus IMAGE_TOKENS per image,
 * which costs tokens its URL's bytes do not show.
 */
export function promptBound(request: ChatCompletionRequest): number {
  const text = JSON.stringify({ messages: request.messages, tools: request.tools ?? [], response_format: request.response_format ?? null });
  const images = request.messages.reduce(
    (count, message) => count + (Array.isArray(message.content) ? message.content.filter((part) => part.type === "image_url").length : 0),
    0,
  );
  return new TextEncoder().encode(text).byteLength + images * IMAGE_TOKENS;
}

function capped(request: ChatCompletionRequest, max: number): ChatCompletionRequest {
  const sent: ChatCompletionRequest = { ...request, max_completion_tokens: max };
  if (request.max_tokens !== undefined) sent.max_tokens = max;
  return sent;
}

/**
 * Reserves with each meter in turn (a key's, then its tenant's), each clamping the output cap
 * further; a refusal gives back what the others reserved. The ids are in the meters' order.
 */
async function reserveAll(
  budgets: readonly Budget[],
  request: ReserveRequest,
  unpricedModel: () => string,
): Promise<{ ids: string[]; maxOutput: number; bounded: boolean }> {
  const ids: string[] = [];
  let maxOutput = request.maxOutput;
  let bounded = false;
  for (const budget of budgets) {
    let held: Reservation;
    try {
      held = await budget.reserve({ ...request, maxOutput });
    } catch (error) {
      await Promise.all(ids.map((id, index) => budgets[index]?.unreserve(id).catch(logMeterFailure)));
      throw error;
    }
    if (held.status !== "reserved") {
      await Promise.all(ids.map((id, index) => budgets[index]?.unreserve(id).catch(logMeterFailure)));
      if (held.status === "revoked") throw new KeyRevokedError();
      if (held.status === "unpriced") throw new ModelNotPricedError(unpricedModel());
      throw new BudgetRefusedError(held.kind, held.message, held.retryAfterMs);
    }
    ids.push(held.id);
    maxOutput = Math.min(maxOutput, held.maxOutput);
    bounded ||= held.bounded;
  }
  return { ids, maxOutput, bounded };
}

function logMeterFailure(error: unknown): void {
  console.error(JSON.stringify({ event: "key_meter_failed", message: error instanceof Error ? error.message : String(error) }));
}

/** What the call cost, from the usage the upstream reported (null without it: the reservation counts). */
function settlementOf(completion: ChatCompletion, asked: string, price: ModelPrice | null): Settlement {
  const usage = completion.usage;
  return {
    model: completion.model || asked,
    usage: usage ? { input: usage.prompt_tokens, cached: cachedTokens(usage), output: usage.completion_tokens, usd: price ? costOf(price, usage) : 0 } : null,
  };
}

export function budgetedModel(model: ModelPort, budgets: readonly Budget[], options: BudgetOptions): ModelPort {
  const call = async (
    request: ChatCompletionRequest,
    run: (sent: ChatCompletionRequest, opened: () => void) => Promise<ChatCompletion>,
  ): Promise<ChatCompletion> => {
    const models = [request.model, ...options.fallbackModels.filter((name) => name !== request.model)];
    const price = dearest(options.prices, models);
    const asked = Math.min(
      ...[request.max_completion_tokens, request.max_tokens, options.maxOutputTokens].filter((cap): cap is number => typeof cap === "number"),
    );
    const held = await reserveAll(
      budgets,
      { promptBytes: promptBound(request), maxOutput: asked, price, allowUnpriced: options.allowUnpriced, holdMs: options.holdMs },
      () => models.find((name) => !options.prices[name]) ?? request.model,
    );
    // Under a budget the call must carry its cap (the reservation is only an upper bound if the model
    // keeps to it): both names, should the request have set both.
    const sent = held.bounded ? capped(request, held.maxOutput) : request;
    let opened = false;
    let completion: ChatCompletion;
    try {
      completion = await run(sent, () => {
        opened = true;
      });
    } catch (error) {
      // Refused before it answered, nothing was generated; cut off once it had begun (the client left,
      // the deadline passed), whatever it generated counts: all it reserved, as no usage came.
      const refused = error instanceof UpstreamError && !opened;
      await Promise.all(
        held.ids.map((id, index) =>
          (refused ? budgets[index]?.unreserve(id) : budgets[index]?.settle(id, { model: request.model, usage: null }))?.catch(logMeterFailure),
        ),
      );
      throw error;
    }
    // The answer is the client's already: a meter that cannot be told is logged, not the turn's failure.
    const settlement = settlementOf(completion, request.model, options.prices[completion.model] ?? price);
    await Promise.all(held.ids.map((id, index) => budgets[index]?.settle(id, settlement).catch(logMeterFailure)));
    return completion;
  };
  return {
    defaultModel: model.defaultModel,
    complete: (request: ChatCompletionRequest, callOptions?: ModelCallOptions) => call(request, (sent) => model.complete(sent, callOptions)),
    stream: (request: ChatCompletionRequest, listener: StreamListener, callOptions?: ModelCallOptions) =>
      call(request, (sent, open) =>
        model.stream(
          sent,
          {
            ...listener,
            onOpen: () => {
              open();
              listener.onOpen?.();
            },
          },
          callOptions,
        ),
      ),
  };
}
