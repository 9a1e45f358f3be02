// One turn of a conversation, for every door (chat route, streaming, webhooks): load the history,
// learn the tools, run the loop, store the turn. Nothing is written unless the turn completes, so a
// failed turn leaves the conversation exactly as it was.

import type { Config } from "./config.js";
import { toolsForTenant } from "./config.js";
import type { Conversation, ConversationStore, TurnRecord } from "./conversations/store.js";
import { ConversationTooLargeError, messagesOf } from "./conversations/store.js";
import type { MixedSteps } from "./history/mixed-steps.js";
import { reconcileInput } from "./history/reconcile.js";
import type { CheckedHistory } from "./history/tool-pairs.js";
import { checkToolCallPairs } from "./history/tool-pairs.js";
import type { LoopHooks, ModelStep, TurnResult } from "./loop/tool-loop.js";
import { runToolLoop } from "./loop/tool-loop.js";
import { randomToken } from "./protocol/normalize.js";
import type { ChatMessage, FunctionToolDefinition, JsonObject } from "./protocol/types.js";
import type { ServerTool, ToolRegistry } from "./tools/registry.js";

export interface TurnRequest {
  tenant: string;
  conversationId: string;
  requestId: string;
  input: ChatMessage[];
  parameters: JsonObject & { model: string };
  clientTools: FunctionToolDefinition[];
  /** Server tools this turn may use; undefined means all discovered tools. */
  allowedTools?: readonly string[];
  signal?: AbortSignal;
  /** A stable id makes re-running the same work (a redelivered webhook) store one turn, not two. */
  turnId?: string;
  /** The orchestrator just made the id up: there is no history to read. */
  newConversation?: boolean;
  /**
   * The input comes from a client that may resend the conversation's history (the chat door): the
   * known part is recognised and only what is new is appended. Webhook turns are all new.
   */
  reconcile?: boolean;
}

export interface TurnDependencies {
  config: Config;
  store: ConversationStore;
  registry: ToolRegistry;
  callModel: ModelStep;
  mixedSteps: MixedSteps;
  /** Runs work after the response (ctx.waitUntil); its failures are swallowed. */
  defer: (work: Promise<unknown>) => void;
}

export interface TurnOptions {
  /** Replaces `dependencies.callModel` (the streaming door streams each step). */
  callModel?: ModelStep;
  hooks?: LoopHooks;
  /**
   * When set, a turn that fails part-way still stores what it had (marked incomplete), plus the
   * assistant text this returns: for a stream, what the client already saw must not be lost.
   */
  keepPartial?: () => string;
  /** Called with the loaded state before the loop starts (before any model call). */
  onPrepared?: (state: { conversation: Conversation | null; serverTools: ServerTool[] }) => void;
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

export async function loadConversation(dependencies: TurnDependencies, tenant: string, conversationId: string): Promise<Conversation | null> {
  const conversation = await dependencies.store.load(tenant, conversationId);
  if (conversation && conversation.bytes >= dependencies.config.conversations.maxBytes) {
    throw new ConversationFullError(conversation.bytes, dependencies.config.conversations.maxBytes);
  }
  return conversation;
}

export function selectServerTools(discovered: readonly ServerTool[], allowed: readonly string[] | undefined): ServerTool[] {
  if (!allowed) return [...discovered];
  const names = new Set(allowed);
  return discovered.filter((tool) => names.has(tool.name));
}

export async function runTurn(dependencies: TurnDependencies, request: TurnRequest, options: TurnOptions = {}): Promise<CompletedTurn> {
  const startedAt = Date.now();
  const turnId = request.turnId ?? `turn_${randomToken(16)}`;
  const [conversation, discovered] = await Promise.all([
    request.newConversation ? null : loadConversation(dependencies, request.tenant, request.conversationId),
    dependencies.registry.list(),
  ]);
  const { history, input } = await prepareHistory(dependencies, request, conversation);
  const record = (messages: ChatMessage[], incomplete: boolean): TurnRecord => ({
    id: turnId,
    started_at: startedAt,
    completed_at: Date.now(),
    incomplete,
    input_count: input.length,
    messages,
  });
  const serverTools = selectServerTools(selectServerTools(discovered, toolsForTenant(dependencies.config, request.tenant)), request.allowedTools);
  options.onPrepared?.({ conversation, serverTools });
  const committed: ChatMessage[] = [];
  let result: TurnResult;
  try {
    result = await runToolLoop({
      callModel: options.callModel ?? dependencies.callModel,
      registry: dependencies.registry,
      serverTools,
      clientTools: request.clientTools,
      history,
      input,
      parameters: request.parameters,
      limits: dependencies.config.limits,
      turnId,
      context: { conversation_id: request.conversationId, request_id: request.requestId, tenant: request.tenant },
      ...(request.signal ? { signal: request.signal } : {}),
      hooks: {
        ...options.hooks,
        onTurnMessage: (message) => {
          committed.push(message);
          options.hooks?.onTurnMessage?.(message);
        },
      },
    });
  } catch (error) {
    if (options.keepPartial) {
      const partialText = options.keepPartial();
      const messages: ChatMessage[] = partialText ? [...committed, { role: "assistant", content: partialText }] : committed;
      await storeTurn(dependencies, request, conversation, record(messages, true)).catch((storeError: unknown) => {
        console.error(JSON.stringify({ event: "partial_turn_not_stored", conversation_id: request.conversationId, message: String(storeError) }));
      });
    }
    throw error;
  }
  const turn = record(result.messages, false);
  await Promise.all([
    storeTurn(dependencies, request, conversation, turn),
    result.mixedStep ? dependencies.mixedSteps.remember(request.tenant, result.mixedStep) : null,
  ]);
  return { ...result, conversationId: request.conversationId, turn };
}

/**
 * What the model is sent: the stored history, then only what is new in the request, with any
 * stateless mixed step put back whole, checked so that every tool call is answered right after it.
 */
async function prepareHistory(dependencies: TurnDependencies, request: TurnRequest, conversation: Conversation | null): Promise<CheckedHistory> {
  const fresh = request.reconcile && conversation ? reconcileInput(conversation.turns, request.input) : request.input;
  const restored = await dependencies.mixedSteps.restore(request.tenant, fresh);
  return checkToolCallPairs(messagesOf(conversation), restored);
}

export async function storeTurn(
  dependencies: TurnDependencies,
  request: Pick<TurnRequest, "tenant" | "conversationId">,
  conversation: Conversation | null,
  turn: TurnRecord,
): Promise<void> {
  try {
    const { cleanup } = await dependencies.store.append(request.tenant, request.conversationId, conversation, turn);
    dependencies.defer(cleanup);
  } catch (error) {
    if (error instanceof ConversationTooLargeError) throw new ConversationFullError(error.bytes, error.maxBytes);
    throw error;
  }
}
