// One turn of a conversation, for every door (chat route, streaming, webhooks, the next API
// surface): take the conversation from its home (its history comes with it), learn the tools, run
// the loop through the model port, commit the turn and everything it produced in one transaction.
// Nothing is written unless the turn completes, so a failed turn leaves the conversation exactly as
// it was; a streamed turn that fails after the client saw part of it keeps that part.

import { ApprovalNeedsStoreError } from "./approvals/errors.js";
import { parkedCompletion, parkStep } from "./approvals/park.js";
import type { ClientApproval, ToolSelection } from "./approvals/policy.js";
import { approvalPolicy, selects } from "./approvals/policy.js";
import type { CallDecision, ParkedStep } from "./approvals/types.js";
import type { Config } from "./config.js";
import { toolsForTenant } from "./config.js";
import type { ConversationHomes, Lease } from "./conversations/homes.js";
import type { TurnProducts, TurnRecord } from "./conversations/turns.js";
import { ConversationBusyError, ConversationGoneError, ConversationTooLargeError } from "./conversations/turns.js";
import { checkContinues } from "./history/continuation.js";
import { markedCallId, mixedStepIdPrefix, restoreMixedSteps } from "./history/mixed-steps.js";
import { leadingSystem, reconcileInput } from "./history/reconcile.js";
import type { CheckedHistory } from "./history/tool-pairs.js";
import { checkToolCallPairs } from "./history/tool-pairs.js";
import type { TenantLimits } from "./keys/key-home.js";
import { randomToken } from "./lib/ids.js";
import type { ModelPort } from "./loop/model-port.js";
import type { LoopCheckpoint, LoopHooks, StepStreamListener, TurnResult } from "./loop/tool-loop.js";
import { combineHooks, runToolLoop } from "./loop/tool-loop.js";
import type { ChatMessage, FunctionToolDefinition, JsonObject } from "./protocol/types.js";
import type { RunSpec } from "./runs/types.js";
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
  /** The Responses API object this turn answers (recorded with the turn). */
  responseId?: string;
  /** The claimed Idempotency-Key this turn runs under: a conversation that already committed its answer replays it. */
  idempotencyKey?: string;
  /** A run holds its conversation under its own id, so the same run continuing after a crash takes it back at once. */
  leaseToken?: string;
  /** Where an interrupted run stopped: the loop continues from this checkpoint. */
  resume?: LoopCheckpoint;
  /** Calls the client wants approved beyond the operator's rules (Responses `require_approval`). */
  approval?: ClientApproval;
  /** The tool sources the client chose (Responses `mcp` tools); absent: every server tool it may use. */
  sources?: ToolSelection;
  /** This turn continues the conversation's parked step, every call of it decided (its run is the one the home named). */
  continueParked?: boolean;
  /**
   * The objects every model call of the turn is metered by (a managed key's, a tenant's with
   * configured limits): each checked (and reserved against its budgets) before, its usage recorded
   * after; and the concurrency slot the turn holds in each, given back when its run ends.
   */
  meters?: Meter[];
}

/** An object that meters a turn: a managed key's (named by its hash) or a tenant's (its configured limits with it). */
export interface Meter {
  name: string;
  slot?: string;
  tenant?: TenantLimits;
}

/** What a turn needs, built once per request or queue batch by the composition root (services.ts). */
export interface TurnServices {
  config: Config;
  model: ModelPort;
  homes: ConversationHomes;
  registry: ToolRegistry;
  /** Keeps a turn whose commit kept failing after its client saw it: committed later, from a queue. */
  rescue: (tenant: string, conversationId: string, turn: TurnRecord, products: TurnProducts) => Promise<void>;
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
  /** What the door keeps beside the turn (its Responses object, its Idempotency-Key answer): committed with it. */
  products?: (completed: CompletedTurn) => TurnProducts;
  /** The turn parked before calls that wait for a person: told before the products are made, so the door's view shows them. */
  onParked?: (parked: ParkedStep) => void;
  /** The run the turn is (kept with a parked step, so a continuation can be made from it). */
  origin?: RunSpec;
  /** Which door asked (recorded with an approval). */
  door?: string;
}

export interface CompletedTurn extends Omit<TurnResult, "parked"> {
  conversationId: string;
  turn: TurnRecord;
  /** The turn stopped before calls that wait for a person (its completion says so); committed with the turn. */
  parked?: ParkedStep;
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

/** The conversation already committed this Idempotency-Key's answer (its claim was lost after the commit): replay it. */
export class AlreadyAnsweredError extends Error {
  constructor(readonly record: string) {
    super("This Idempotency-Key's turn is already stored.");
    this.name = "AlreadyAnsweredError";
  }
}

/** A continuation was asked for, and the conversation has no parked step (it was continued already). */
export class NothingToContinueError extends Error {
  constructor() {
    super("This conversation has no turn waiting for approval.");
    this.name = "NothingToContinueError";
  }
}

/** Where a decided parked step continues: its model answer, the results in, and each decision. */
function continuationOf(parked: ParkedStep): LoopCheckpoint {
  const decisions: Record<string, CallDecision> = {};
  for (const approval of parked.approvals) {
    if (approval.status === "pending") continue;
    decisions[approval.tool_call_id] = {
      status: approval.status,
      approve: approval.status === "approved",
      arguments: approval.arguments,
      ...(approval.reason ? { reason: approval.reason } : {}),
    };
  }
  return {
    step: parked.step,
    messages: [],
    pending: { completion: parked.completion, assistant: parked.assistant, results: parked.results, decisions },
    usage: null,
    keyTurnId: parked.turn_id,
  };
}

/** A failed commit is tried this many times more for a streamed turn, whose client already has the answer. */
const STREAMED_COMMIT_RETRIES = [50, 250];

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
  // A turn that keeps nothing takes no lease; it only reads what is there.
  let leasing: Promise<Lease> | null = null;
  const takeHome = (): Promise<Lease> => {
    if (!leasing) {
      leasing = services.homes.begin(beginRequest(request));
      leasing.catch(() => undefined);
    }
    return leasing;
  };
  // A new conversation has no history to wait for: its home is taken while the model works. A
  // streamed one takes it once the first stream has opened, so that first content never waits for
  // an object to be created (locally the home shares the Worker's thread); the rest of the
  // generation covers it.
  if (request.store !== false && !(request.newConversation && options.stream)) takeHome();
  let parkedBefore: ParkedStep | null = null;
  const history = async (): Promise<TurnRecord[]> => {
    if (request.store === false) return (await services.homes.read(request.tenant, request.conversationId))?.turns ?? [];
    const lease = await takeHome();
    if (lease.replay !== null) throw new AlreadyAnsweredError(lease.replay);
    checkSize(services.config, lease.bytes);
    parkedBefore = lease.parked;
    return lease.turns;
  };
  let discovered: ServerTool[];
  let prepared: CheckedHistory;
  try {
    let turns: TurnRecord[];
    [turns, discovered] = await Promise.all([
      request.newConversation ? [] : tracer.time("load_conversation", history()),
      tracer.time("discover_tools", services.registry.list()),
    ]);
    prepared = await prepareHistory(services, request, turns);
  } catch (error) {
    await endLease(leasing);
    throw error;
  }
  const { history: past, input } = prepared;
  const allowed = toolsForRequest(discovered, services.config, request.tenant, request.allowedTools);
  const sources = request.sources;
  const serverTools = sources ? allowed.filter((tool) => selects(sources, tool)) : allowed;
  // A continuation starts where its parked step stopped, the people's decisions in it; a run taken
  // up again after a crash has its own later checkpoint.
  let resume = request.resume;
  if (!resume && request.continueParked) {
    const parked = parkedBefore as ParkedStep | null;
    if (!parked) {
      await endLease(leasing);
      throw new NothingToContinueError();
    }
    resume = continuationOf(parked);
  }
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
      ...(request.continueParked ? { continues: true } : {}),
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
                if (request.store !== false) setTimeout(takeHome, 0);
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
      history: past,
      input,
      parameters: request.parameters,
      limits: services.config.limits,
      turnId,
      mixedStepIdPrefix: mixedStepIdPrefix(request.conversationId),
      ...(resume ? { resume } : {}),
      needsApproval: approvalPolicy(services.config, request.approval),
      // Only a kept turn can wait: there is nowhere to come back to in one that keeps nothing.
      canPark: request.store !== false,
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
      streamOpened && request.store !== false && (await keepPartial(services, request, takeHome(), record(withShownText(committed, shownText), true)));
    if (!keptPartial) await endLease(leasing);
    if (deadline.aborted) throw new TurnDeadlineError(request.deadlineMs, keptPartial);
    if (request.signal?.aborted) throw request.signal.reason;
    throw error;
  }
  const { parked: stopped, ...rest } = result;
  const completed: CompletedTurn = { ...rest, conversationId: request.conversationId, turn: record(result.messages, false) };
  if (stopped) {
    // A turn that is not a run (nothing to continue it from) cannot wait either.
    if (!options.origin) throw new ApprovalNeedsStoreError(stopped.awaiting.map((call) => call.function.name));
    const parked = await parkStep(services, request, options.origin, options.door ?? "chat", turnId, stopped, serverTools, resume?.keyTurnId);
    completed.parked = parked;
    completed.completion = parkedCompletion(result.completion, parked);
    const told = completed.completion.choices[0]?.message.content;
    if (typeof told === "string") completed.turn.notice = told;
    options.onParked?.(parked);
  }
  if (request.store === false) return completed;
  let products: TurnProducts;
  try {
    await options.beforeStore?.();
    products = { ...options.products?.(completed) };
  } catch (error) {
    await endLease(leasing);
    throw error;
  }
  if (completed.parked) products.parked = completed.parked;
  const marked = result.mixedStep ? markedCallId(result.mixedStep.assistant) : undefined;
  if (result.mixedStep && marked) products.mixedStep = { callId: marked, step: result.mixedStep };
  await commitTurn(services, request, takeHome(), completed.turn, products, listener !== undefined);
  return completed;
}

function beginRequest(request: TurnRequest): Parameters<ConversationHomes["begin"]>[0] {
  return {
    tenant: request.tenant,
    conversationId: request.conversationId,
    fresh: request.newConversation === true,
    ...(request.leaseToken ? { token: request.leaseToken } : {}),
    ...(request.idempotencyKey ? { idempotencyKey: request.idempotencyKey } : {}),
  };
}

function checkSize(config: Config, bytes: number): void {
  const { maxBytes } = config.conversations;
  if (bytes >= maxBytes) throw new ConversationFullError(bytes, maxBytes);
}

/** Frees the conversation for the next turn; a lease that was never granted has nothing to free. */
async function endLease(leasing: Promise<Lease> | null): Promise<void> {
  if (!leasing) return;
  const lease = await leasing.catch(() => null);
  await lease?.release().catch(() => undefined);
}

/**
 * What the model is sent: the stored history, then only what is new in the request, with any
 * stateless mixed step put back whole, checked so that every tool call is answered right after it.
 */
async function prepareHistory(services: TurnServices, request: TurnRequest, stored: TurnRecord[]): Promise<CheckedHistory> {
  // A re-run of a turn (a retried Idempotency-Key) replaces what its earlier attempt left.
  const turns = stored.filter((turn) => turn.id !== request.turnId);
  if (request.continuesTurn !== undefined) checkContinues(turns, request.continuesTurn);
  const { input, system } = request.reconcile && turns.length > 0 ? reconcileInput(turns, request.input) : { input: request.input, system: null };
  const restored = await restoreMixedSteps(input, (callId) => services.homes.mixedStep(request.tenant, callId));
  const messages = turns.flatMap((turn) => turn.messages);
  const prompt = request.instructions ?? system;
  return checkToolCallPairs(prompt ? [...prompt, ...messages.slice(leadingSystem(messages).length)] : messages, restored);
}

function withShownText(committed: ChatMessage[], shownText: string): ChatMessage[] {
  return shownText ? [...committed, { role: "assistant", content: shownText }] : committed;
}

async function keepPartial(services: TurnServices, request: TurnRequest, leasing: Promise<Lease>, turn: TurnRecord): Promise<boolean> {
  try {
    await commitTurn(services, request, leasing, turn, {}, true);
    return true;
  } catch (error) {
    console.error(JSON.stringify({ event: "partial_turn_not_stored", conversation_id: request.conversationId, message: String(error) }));
    return false;
  }
}

/**
 * Commits the turn. A streamed turn's client has already read it, so a commit that fails for a
 * reason that may pass (not a refusal: too large, deleted, lease lost) is tried again, then handed
 * to the rescue queue, which commits it once the home can take it.
 */
async function commitTurn(
  services: TurnServices,
  request: TurnRequest,
  leasing: Promise<Lease>,
  turn: TurnRecord,
  products: TurnProducts,
  streamed: boolean,
): Promise<void> {
  const rescue = async (error: unknown) => {
    console.error(JSON.stringify({ event: "turn_commit_rescued", conversation_id: request.conversationId, turn_id: turn.id, message: String(error) }));
    await services.rescue(request.tenant, request.conversationId, turn, products);
  };
  let lease: Lease;
  try {
    lease = await leasing;
  } catch (error) {
    // A streamed new conversation takes its home mid-stream: if that failed, what the client saw is rescued all the same.
    if (!streamed || isRefusal(error)) throw error;
    return rescue(error);
  }
  const retries = streamed ? STREAMED_COMMIT_RETRIES : [];
  for (let attempt = 0; ; attempt++) {
    try {
      await lease.commit(turn, products);
      return;
    } catch (error) {
      if (error instanceof ConversationTooLargeError) throw new ConversationFullError(error.bytes, error.maxBytes);
      const delay = retries[attempt];
      // A streamed turn whose lease ran out meanwhile (its renewals failed) is still the client's: it is
      // rescued, appended after whatever the next turn stored. Only a deleted conversation refuses it.
      if (streamed && error instanceof ConversationBusyError) return rescue(error);
      if (isRefusal(error)) throw error;
      if (delay === undefined) {
        await lease.release().catch(() => undefined);
        if (!streamed) throw error;
        return rescue(error);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** The home refused the commit for good: trying again cannot store it. */
function isRefusal(error: unknown): boolean {
  return error instanceof ConversationGoneError || error instanceof ConversationBusyError;
}
