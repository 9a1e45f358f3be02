// One turn of a conversation, for every door (chat route, streaming, webhooks, the next API
// surface): load the history, learn the tools, run the loop through the model port, store the
// turn. Nothing is written unless the turn completes, so a failed turn leaves the conversation
// exactly as it was; a streamed turn that fails after the client saw part of it keeps that part.

import type { Config } from "./config.js";
import { toolsForTenant } from "./config.js";
import type { Conversation, ConversationStore, TurnRecord } from "./conversations/store.js";
import { ConversationTooLargeError } from "./conversations/store.js";
import { checkContinues } from "./history/continuation.js";
import type { MixedSteps } from "./history/mixed-steps.js";
import { leadingSystem, reconcileInput } from "./history/reconcile.js";
import type { CheckedHistory } from "./history/tool-pairs.js";
import { checkToolCallPairs } from "./history/tool-pairs.js";
import { randomToken } from "./lib/ids.js";
import type { ModelPort } from "./loop/model-port.js";
import type { LoopHooks, StepStreamListener, TurnResult } from "./loop/tool-loop.js";
import { combineHooks, runToolLoop } from "./loop/tool-loop.js";
import type { ChatMessage, FunctionToolDefinition, JsonObject } from "./protocol/types.js";
import type { ServerTool, ToolRegistry } from "./tools/registry.js";
import type { TraceContext } from "./trace/context.js";
import { continueTrace } from "./trace/context.js";
import { hostOf, startTurnTrace } from "./trace/turn-trace.js";

export interface TurnRequest {
  tenant: string;
  conversationId: string;
  requestId: string;
  input: ChatMessage[];
  parameters: JsonObject & { model: string };
  clientTools: FunctionToolDefinition[];
  /** Server tools this turn may use; undefined means all discovered tools. */
  allowedTools?: readonly string[];
  /** The whole turn, every step and tool included, must end within this. */
  deadlineMs: number;
  /** Ends the turn early (the client went away): its reason is what the turn fails with. */
  signal?: AbortSignal;
  /** A stable id makes re-running the same work (a redelivered webhook, a retried key) the same turn. */
  turnId?: string;
  /** The orchestrator just made the id up: there is no history to read. */
  newConversation?: boolean;
  /**
   * The input comes from a client that may resend the conversation's history (the chat door): the
   * known part is recognised and only what is new is appended. Webhook turns are all new.
   */
  reconcile?: boolean;
  /** False keeps nothing: no turn, no partial turn, no remembered mixed step (`store: false`). */
  store?: boolean;
  /** A system prompt for this turn only (Responses `instructions`): sent first instead of the stored one, never stored. */
  instructions?: ChatMessage[];
  /** The turn this one must directly follow (a `previous_response_id`): a conversation that has moved on since is a 409. */
  continuesTurn?: string;
  /** The trace this turn continues (a client's `traceparent`); a new trace without one. */
  trace?: TraceContext;
  /** The Responses API object this turn answers (recorded with the turn, so a conversation's DELETE finds it). */
  responseId?: string;
}

/** What a turn needs, built once per request or queue batch by the composition root (services.ts). */
export interface TurnServices {
  config: Config;
  model: ModelPort;
  store: ConversationStore;
  registry: ToolRegistry;
  mixedSteps: MixedSteps;
  /** Runs work after the response (ctx.waitUntil); a failure is logged, never thrown. */
  defer: (work: Promise<unknown>) => void;
  /** Masks configured secrets, as in logs: applied to the turn's trace before it is stored. */
  redact?: (text: string) => string;
}

export interface TurnOptions {
  hooks?: LoopHooks;
  /** Stream every step to this listener. A streamed turn that fails keeps what the client saw. */
  stream?: StepStreamListener;
  /** Awaited once the loop has answered, before the turn is committed (a streamed door lets what it wrote leave first). */
  beforeStore?: () => Promise<void>;
}

export interface CompletedTurn extends TurnResult {
  conversationId: string;
  turn: TurnRecord;
}

export class ConversationFullError extends Error {
  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`Conversation is ${bytes} bytes, at the ${maxBytes}-byte limit: start a new conversation.`);
    this.name = "ConversationFullError";
  }
}

export class TurnDeadlineError extends Error {
  constructor(
    readonly deadlineMs: number,
    /** Whether what the client had already seen (a stream) was stored. */
    readonly keptPartial: boolean,
  ) {
    super(`The turn did not finish within ${deadlineMs} ms; ${keptPartial ? "what was generated so far is stored" : "nothing was stored"}.`);
    this.name = "TurnDeadlineError";
  }
}

export function selectServerTools(discovered: readonly ServerTool[], allowed: readonly string[] | undefined): ServerTool[] {
  if (!allowed) return [...discovered];
  const names = new Set(allowed);
  return discovered.filter((tool) => names.has(tool.name));
}

/** The server tools a request may use: within its tenant's allowlist, then its own (`server_tools`), if any. */
export function toolsForRequest(discovered: readonly ServerTool[], config: Config, tenant: string, requested?: readonly string[]): ServerTool[] {
  return selectServerTools(selectServerTools(discovered, toolsForTenant(config, tenant)), requested);
}

export async function runTurn(services: TurnServices, request: TurnRequest, options: TurnOptions = {}): Promise<CompletedTurn> {
  const startedAt = Date.now();
  const turnId = request.turnId ?? `turn_${randomToken(16)}`;
  const deadline = AbortSignal.timeout(request.deadlineMs);
  const signal = request.signal ? AbortSignal.any([deadline, request.signal]) : deadline;
  const tracer = startTurnTrace({
    context: request.trace ?? continueTrace(null),
    startedAt,
    conversationId: request.conversationId,
    turnId,
    model: request.parameters.model,
    serverAddress: hostOf(services.config.dmxapi.baseUrl),
  });
  let steps = 0;
  const [conversation, discovered] = await Promise.all([
    request.newConversation ? null : tracer.time("load_conversation", loadConversation(services, request.tenant, request.conversationId)),
    tracer.time("discover_tools", services.registry.list()),
  ]);
  const { history, input } = await prepareHistory(services, request, conversation);
  const serverTools = toolsForRequest(discovered, services.config, request.tenant, request.allowedTools);
  const record = (messages: ChatMessage[], incomplete: boolean): TurnRecord => {
    const completedAt = Date.now();
    return {
      id: turnId,
      started_at: startedAt,
      completed_at: completedAt,
      incomplete,
      input_count: input.length,
      messages,
      trace: tracer.finish({ endMs: completedAt, steps, incomplete }, services.redact),
      ...(request.responseId ? { response_id: request.responseId } : {}),
    };
  };

  // What a streamed turn showed the client: every committed message, then the text of the step under way.
  const committed: ChatMessage[] = [];
  let shownText = "";
  let streamOpened = false;
  const listener = options.stream;
  let result: TurnResult;
  try {
    result = await runToolLoop({
      model: services.model,
      ...(listener
        ? {
            stream: {
              onOpen: (step) => {
                streamOpened = true;
                listener.onOpen?.(step);
              },
              onDelta: (delta, step) => {
                if (delta.content) shownText += delta.content;
                return listener.onDelta(delta, step);
              },
            },
          }
        : {}),
      registry: services.registry,
      serverTools,
      clientTools: request.clientTools,
      history,
      input,
      parameters: request.parameters,
      limits: services.config.limits,
      turnId,
      context: { conversation_id: request.conversationId, request_id: request.requestId, tenant: request.tenant, traceparent: tracer.traceparent },
      signal,
      hooks: combineHooks(
        tracer.hooks,
        {
          onModelCall: (event) => {
            steps = event.step;
          },
          onTurnMessage: (message) => {
            committed.push(message);
            shownText = "";
          },
        },
        options.hooks,
      ),
    });
  } catch (error) {
    // Until a stream opened the client saw nothing, and a failure stores nothing.
    const keptPartial =
      streamOpened && request.store !== false && (await keepPartial(services, request, conversation, record(withShownText(committed, shownText), true)));
    if (deadline.aborted) throw new TurnDeadlineError(request.deadlineMs, keptPartial);
    if (request.signal?.aborted) throw request.signal.reason;
    throw error;
  }
  const turn = record(result.messages, false);
  if (request.store === false) return { ...result, conversationId: request.conversationId, turn };
  await options.beforeStore?.();
  await Promise.all([
    storeTurn(services, request, conversation, turn),
    result.mixedStep ? services.mixedSteps.remember(request.tenant, result.mixedStep) : null,
  ]);
  return { ...result, conversationId: request.conversationId, turn };
}

async function loadConversation(services: TurnServices, tenant: string, conversationId: string): Promise<Conversation | null> {
  const conversation = await services.store.load(tenant, conversationId);
  const { maxBytes } = services.config.conversations;
  if (conversation && conversation.bytes >= maxBytes) throw new ConversationFullError(conversation.bytes, maxBytes);
  return conversation;
}

/**
 * What the model is sent: the stored history, then only what is new in the request, with any
 * stateless mixed step put back whole, checked so that every tool call is answered right after it.
 */
async function prepareHistory(services: TurnServices, request: TurnRequest, conversation: Conversation | null): Promise<CheckedHistory> {
  // A re-run of a turn (a retried Idempotency-Key) replaces what its earlier attempt left.
  const turns = (conversation?.turns ?? []).filter((turn) => turn.id !== request.turnId);
  if (request.continuesTurn !== undefined) checkContinues(turns, request.continuesTurn);
  const { input, system } = request.reconcile && turns.length > 0 ? reconcileInput(turns, request.input) : { input: request.input, system: null };
  const restored = await services.mixedSteps.restore(request.tenant, input);
  const stored = turns.flatMap((turn) => turn.messages);
  const prompt = request.instructions ?? system;
  return checkToolCallPairs(prompt ? [...prompt, ...stored.slice(leadingSystem(stored).length)] : stored, restored);
}

function withShownText(committed: ChatMessage[], shownText: string): ChatMessage[] {
  return shownText ? [...committed, { role: "assistant", content: shownText }] : committed;
}

async function keepPartial(services: TurnServices, request: TurnRequest, conversation: Conversation | null, turn: TurnRecord): Promise<boolean> {
  try {
    await storeTurn(services, request, conversation, turn);
    return true;
  } catch (error) {
    console.error(JSON.stringify({ event: "partial_turn_not_stored", conversation_id: request.conversationId, message: String(error) }));
    return false;
  }
}

async function storeTurn(services: TurnServices, request: TurnRequest, conversation: Conversation | null, turn: TurnRecord): Promise<void> {
  try {
    await services.store.append(request.tenant, request.conversationId, conversation, turn);
  } catch (error) {
    if (error instanceof ConversationTooLargeError) throw new ConversationFullError(error.bytes, error.maxBytes);
    throw error;
  }
}
