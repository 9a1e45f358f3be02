// One turn of a conversation, for every door (chat route, streaming, webhooks): load the history,
// learn the tools, run the loop, store the turn. Nothing is written unless the turn completes, so a
// failed turn leaves the conversation exactly as it was.

import type { Config } from "./config.js";
import { toolsForTenant } from "./config.js";
import type { Conversation, ConversationStore, TurnRecord } from "./conversations/store.js";
import { ConversationTooLargeError, messagesOf } from "./conversations/store.js";
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
}

export interface TurnDependencies {
  config: Config;
  store: ConversationStore;
  registry: ToolRegistry;
  callModel: ModelStep;
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
  const record = (messages: ChatMessage[], incomplete: boolean): TurnRecord => ({
    id: turnId,
    started_at: startedAt,
    completed_at: Date.now(),
    incomplete,
    messages,
  });
  const [conversation, discovered] = await Promise.all([
    request.newConversation ? null : loadConversation(dependencies, request.tenant, request.conversationId),
    dependencies.registry.list(),
  ]);
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
      history: messagesOf(conversation),
      input: request.input,
      parameters: request.parameters,
      limits: dependencies.config.limits,
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
  await storeTurn(dependencies, request, conversation, turn);
  return { ...result, conversationId: request.conversationId, turn };
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
