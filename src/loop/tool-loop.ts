// The tool loop: call the model with the conversation and the tools; while it answers with tool
// calls, run the server's ones in parallel and feed the results back; stop at an answer, at calls
// meant for the client, or at the step limit. It knows nothing of HTTP or storage: every door (the
// chat route, its streaming form, the webhook consumer) gives it a way to call the model and a
// registry, and gets back the turn's messages.

import type { ToolCallContext } from "../../kit/protocol.js";
import { ApprovalNeedsStoreError } from "../approvals/errors.js";
import type { CallDecision } from "../approvals/types.js";
import { MIXED_STEP_ID_PREFIX, mixedStepRandomChars } from "../history/mixed-steps.js";
import type { NormalizedToolCall } from "../protocol/normalize.js";
import { addUsage, normalizeAssistantMessage, parseArguments, ToolCallIds, truncate } from "../protocol/normalize.js";
import type {
  AssistantMessage,
  ChatCompletion,
  ChatCompletionRequest,
  ChatMessage,
  FunctionToolDefinition,
  JsonObject,
  ToolCall,
  ToolMessage,
  Usage,
} from "../protocol/types.js";
import type { ServerTool, ToolOutcome, ToolRegistry } from "../tools/registry.js";
import { childOf } from "../trace/context.js";
import type { ModelCallOptions, ModelFallbackEvent, ModelPort, ModelRetryEvent, StreamDelta } from "./model-port.js";
import { awaitsClient, hasToolCalls, isFinalStep } from "./stop-conditions.js";

export interface LoopLimits {
  /** Tool steps before the final call without tools. */
  maxSteps: number;
  toolTimeoutMs: number;
  /** Calls beyond this in one step are answered with an error instead of run. */
  maxToolCallsPerStep: number;
  /** Tool output longer than this is cut, and the model is told so. */
  maxToolOutputChars: number;
}

export interface ToolLoopInput {
  model: ModelPort;
  /** Set by a door that streams: each step then streams, its deltas going here as they arrive. */
  stream?: StepStreamListener;
  registry: ToolRegistry;
  /** Server tools this request may use (discovered, allowlisted). */
  serverTools: readonly ServerTool[];
  /** Functions the client declared: their calls go back to the client unexecuted. */
  clientTools: readonly FunctionToolDefinition[];
  /** Stored history of the conversation (sent to the model, not stored again). */
  history: readonly ChatMessage[];
  /** This request's messages: the start of the turn. */
  input: readonly ChatMessage[];
  /** Everything else of the client's request (model, temperature, tool_choice, ...), forwarded. */
  parameters: JsonObject & { model: string };
  limits: LoopLimits;
  context: Omit<ToolCallContext, "tool_call_id" | "idempotency_key" | "turn_id">;
  /**
   * Stable across re-runs of the same turn (a client retry with the same Idempotency-Key, a
   * redelivered webhook job): tool idempotency keys derive from it, so a re-run repeats no side effect.
   */
  /** How a mixed step's client call ids begin (history/mixed-steps: they name the conversation). */
  mixedStepIdPrefix?: string;
  turnId: string;
  signal?: AbortSignal;
  hooks?: LoopHooks;
  /** Where a run that was interrupted stopped (its last checkpoint): the loop continues from there. */
  resume?: LoopCheckpoint;
  /** Whether this call waits for a person: the step then parks before it (the others run). */
  needsApproval?: (tool: ServerTool, args: JsonObject) => boolean;
  /** False when the turn cannot wait (it keeps nothing): a call that needs approval fails the turn before any call of its step runs. */
  canPark?: boolean;
}

/**
 * How far a turn has got, told after every model call and every tool call: enough to continue it
 * elsewhere without asking the model again for an answer it gave or running a tool that already ran.
 */
export interface LoopCheckpoint {
  /** Model calls whose answers are in `messages` or `pending`. */
  step: number;
  /** What the turn added after its input: whole steps only (an assistant message and all its results). */
  messages: ChatMessage[];
  /** The step under way: the model's answer (its tool calls) and the results that are in so far. */
  pending?: PendingStep;
  usage: Usage | null;
  /** The turn whose tool calls these are, when a continuation of a parked turn runs them: their idempotency keys stay that turn's. */
  keyTurnId?: string;
}

export interface PendingStep {
  completion: ChatCompletion;
  assistant: AssistantMessage;
  results: ToolMessage[];
  /** A parked step continued: each waited-for call's decision, by call id. */
  decisions?: Record<string, CallDecision>;
  /** The decided calls were announced (onToolCalls): a run taken up again does not announce them twice. */
  announced?: boolean;
}

export interface StepStreamListener {
  onOpen?: (step: number) => void;
  onDelta: (delta: StreamDelta, step: number) => void | Promise<void>;
}

/**
 * What a door may watch as the turn goes (the streaming door shows tool activity with these). A
 * hook that throws is ignored: watching a turn must never fail it (see notify).
 */
export interface LoopHooks {
  /** Each message as it becomes part of the turn, input first: what is safe to keep if the turn dies. */
  onTurnMessage?: (message: ChatMessage) => void;
  onToolCalls?: (step: number, calls: readonly NormalizedToolCall[]) => void;
  onToolResult?: (event: ToolResultEvent) => void;
  /** Each model call, once it answered or failed, with the retries and fallbacks it took. */
  onModelCall?: (event: ModelCallEvent) => void;
  /** After every model call and every tool call: what a run keeps to continue from (see LoopCheckpoint). */
  onCheckpoint?: (checkpoint: LoopCheckpoint) => void;
}

export interface ToolResultEvent {
  step: number;
  call: NormalizedToolCall;
  outcome: ToolOutcome;
  durationMs: number;
  /** The tool it ran on; absent when no server tool has the call's name. */
  tool?: ServerTool;
  /** The tool message's content: what the model reads of the result. */
  content?: string;
  /** The traceparent the tool was sent, naming this call's span (when the turn is traced). */
  traceparent?: string;
}

export interface ModelCallEvent {
  step: number;
  /** The model asked for; the completion names the one that answered (a fallback may differ). */
  model: string;
  streamed: boolean;
  startedAt: number;
  durationMs: number;
  retries: ReadonlyArray<ModelRetryEvent & { at: number }>;
  fallbacks: ReadonlyArray<ModelFallbackEvent & { at: number }>;
  completion?: ChatCompletion;
  error?: unknown;
}

export interface TurnResult {
  /** The last model response, with the message the client sees and the turn's summed usage. */
  completion: ChatCompletion;
  /** Everything this turn added to the conversation, input first, in order. */
  messages: ChatMessage[];
  usage: Usage | null;
  steps: number;
  /** Set when the turn ends handing client calls back from a step whose server calls already ran. */
  mixedStep?: { assistant: AssistantMessage; results: ToolMessage[] };
  /** Set when the turn stopped before calls that wait for a person: `messages` hold only whole steps before it. */
  parked?: { step: number; completion: ChatCompletion; assistant: AssistantMessage; results: ToolMessage[]; awaiting: ToolCall[] };
}

const FORCING_TOOL_CHOICES = (choice: unknown) => choice === "required" || (typeof choice === "object" && choice !== null);

export async function runToolLoop(input: ToolLoopInput): Promise<TurnResult> {
  const clientNames = new Set(input.clientTools.map((tool) => tool.function.name));
  // A client function with a server tool's name takes its place for this request.
  const serverTools = new Map(input.serverTools.filter((tool) => !clientNames.has(tool.name)).map((tool) => [tool.name, tool]));
  const toolDefinitions = [...[...serverTools.values()].map((tool) => tool.definition), ...input.clientTools];
  const resume = input.resume;

  const conversation: ChatMessage[] = [...input.history, ...input.input, ...(resume?.messages ?? [])];
  const turnMessages: ChatMessage[] = [];
  const commit = (...messages: ChatMessage[]) => {
    turnMessages.push(...messages);
    for (const message of messages) notify(() => input.hooks?.onTurnMessage?.(message));
  };
  commit(...input.input, ...(resume?.messages ?? []));
  const ids = new ToolCallIds(toolCallIdsIn([...conversation, ...(resume?.pending ? [resume.pending.assistant] : [])]));
  let usage: Usage | null = resume?.usage ?? null;
  const keyTurnId = resume?.keyTurnId;
  const checkpoint = (step: number, pending?: LoopCheckpoint["pending"]) =>
    notify(() =>
      input.hooks?.onCheckpoint?.({
        step,
        messages: turnMessages.slice(input.input.length),
        usage,
        ...(pending ? { pending } : {}),
        ...(keyTurnId ? { keyTurnId } : {}),
      }),
    );

  for (let step = resume ? (resume.pending ? resume.step : resume.step + 1) : 1; ; step++) {
    // The step an interrupted run stopped in: the model's answer is kept, only its missing results are run.
    const resumed = resume?.pending && step === resume.step ? resume.pending : null;
    const final = isFinalStep(step, input.limits.maxSteps);
    let completion: ChatCompletion;
    let message: AssistantMessage;
    let toolCalls: NormalizedToolCall[];
    if (resumed) {
      completion = resumed.completion;
      message = resumed.assistant;
      toolCalls = (message.tool_calls ?? []).map((call) => ({ call, arguments: parseArguments(call.function.arguments) }));
    } else {
      const request = buildRequest(input.parameters, conversation, final ? [] : toolDefinitions, step);
      completion = await callModel(input, request, step);
      usage = addUsage(usage, completion.usage);
      ({ message, toolCalls } = normalizeAssistantMessage(completion.choices[0]?.message, ids));
    }
    const choice = completion.choices[0];

    if (!resumed && (final || !hasToolCalls(toolCalls))) {
      const answer = final && hasToolCalls(toolCalls) ? withoutToolCalls(message, input.limits.maxSteps) : message;
      commit(answer);
      const finishReason = final && hasToolCalls(toolCalls) ? "length" : (choice?.finish_reason ?? "stop");
      return finish(completion, answer, finishReason, turnMessages, usage, step);
    }

    const clientCalls = toolCalls.filter((call) => clientNames.has(call.call.function.name));
    const serverCalls = toolCalls.filter((call) => !clientNames.has(call.call.function.name));
    // The client sees only its own calls of a mixed step; marked ids let a stateless follow-up that
    // carries them be recognised, and the server's half put back (see history/mixed-steps).
    const mixed = awaitsClient(clientCalls) && serverCalls.length > 0;
    if (mixed && !resumed) {
      const prefix = input.mixedStepIdPrefix ?? MIXED_STEP_ID_PREFIX;
      for (const call of clientCalls) call.call.id = ids.claim(ids.fresh(prefix, mixedStepRandomChars(prefix)));
    }
    const results = [...(resumed?.results ?? [])];
    const decisions = resumed?.decisions ?? {};
    const answered = new Set(results.map((result) => result.tool_call_id));
    // Calls that wait for a person and have no decision yet: the step parks before them.
    const awaiting = serverCalls.filter((call) => !answered.has(call.call.id) && !decisions[call.call.id] && waitsForApproval(input, serverTools, call));
    if (awaiting.length > 0 && input.canPark === false) throw new ApprovalNeedsStoreError(awaiting.map((call) => call.call.function.name));
    const runnable = serverCalls.filter((call) => !awaiting.includes(call));
    // A continued parked step announces the calls decided since; a fresh step announces those it runs.
    const announce = resumed ? (resumed.announced ? [] : runnable.filter((call) => decisions[call.call.id] && !answered.has(call.call.id))) : runnable;
    if (announce.length > 0) notify(() => input.hooks?.onToolCalls?.(step, announce));
    const pending = (): PendingStep => ({
      completion,
      assistant: message,
      results: [...results],
      ...(resumed?.decisions ? { decisions: resumed.decisions, announced: true } : {}),
    });
    checkpoint(step, pending());
    const done = new Map(results.map((result) => [result.tool_call_id, result]));
    const order = serverCalls.map((call) => call.call.id);
    const ran = await runServerCalls(input, serverTools, runnable, order, step, done, decisions, (result) => {
      results.push(result);
      checkpoint(step, pending());
    });
    // Cut short while tools ran (the client left, the deadline passed): their results are the abort,
    // not the tools' answers, and must not be kept as if a tool had failed; the step is not committed.
    input.signal?.throwIfAborted();
    if (awaiting.length > 0) {
      const parked = { step, completion, assistant: message, results: ran, awaiting: awaiting.map((call) => call.call) };
      return { ...finish(completion, message, "stop", turnMessages, usage, step), parked };
    }
    // Results in the order of the calls, whichever ran first.
    const byId = new Map(ran.map((result) => [result.tool_call_id, result]));
    const toolMessages = serverCalls.flatMap((call) => byId.get(call.call.id) ?? []);
    // The assistant message and its results are committed together, so a turn cut short is never
    // kept with a tool call that has no answer.
    conversation.push(message, ...toolMessages);
    commit(message, ...toolMessages);
    checkpoint(step);

    if (awaitsClient(clientCalls)) {
      // The client answers only what it declared; server calls of the same step are already answered.
      const forClient: AssistantMessage = { ...message, tool_calls: clientCalls.map((call) => call.call) };
      const result = finish(completion, forClient, "tool_calls", turnMessages, usage, step);
      return mixed ? { ...result, mixedStep: { assistant: message, results: toolMessages } } : result;
    }
  }
}

async function callModel(input: ToolLoopInput, request: ChatCompletionRequest, step: number): Promise<ChatCompletion> {
  const startedAt = Date.now();
  const retries: Array<ModelRetryEvent & { at: number }> = [];
  const fallbacks: Array<ModelFallbackEvent & { at: number }> = [];
  const options: ModelCallOptions = {
    ...(input.signal ? { signal: input.signal } : {}),
    onRetry: (event) => retries.push({ ...event, at: Date.now() }),
    onFallback: (event) => fallbacks.push({ ...event, at: Date.now() }),
  };
  const listener = input.stream;
  const report = (result: Pick<ModelCallEvent, "completion" | "error">) =>
    notify(() =>
      input.hooks?.onModelCall?.({
        step,
        model: request.model,
        streamed: !!listener,
        startedAt,
        durationMs: Date.now() - startedAt,
        retries,
        fallbacks,
        ...result,
      }),
    );
  try {
    const completion = await (listener
      ? input.model.stream(request, { onOpen: () => notify(() => listener.onOpen?.(step)), onDelta: (delta) => listener.onDelta(delta, step) }, options)
      : input.model.complete(request, options));
    report({ completion });
    return completion;
  } catch (error) {
    report({ error });
    throw error;
  }
}

/** Several watchers as one: each is told in turn, and one that throws does not keep the others from hearing. */
export function combineHooks(...all: ReadonlyArray<LoopHooks | undefined>): LoopHooks {
  const hooks = all.filter((each): each is LoopHooks => each !== undefined);
  const each =
    <Key extends keyof LoopHooks>(key: Key) =>
    (...args: Parameters<NonNullable<LoopHooks[Key]>>) => {
      for (const hook of hooks) notify(() => (hook[key] as ((...values: typeof args) => unknown) | undefined)?.(...args));
    };
  return {
    onTurnMessage: each("onTurnMessage"),
    onToolCalls: each("onToolCalls"),
    onToolResult: each("onToolResult"),
    onModelCall: each("onModelCall"),
    onCheckpoint: each("onCheckpoint"),
  };
}

/** Tells a listener; a listener that throws (or rejects) is ignored, so it can never fail the turn. */
export function notify(listener: () => unknown): void {
  try {
    const result = listener();
    if (result instanceof Promise) result.catch(() => undefined);
  } catch {
    // Watching a turn must not change it.
  }
}

function buildRequest(
  parameters: JsonObject & { model: string },
  messages: ChatMessage[],
  tools: FunctionToolDefinition[],
  step: number,
): ChatCompletionRequest {
  const { tool_choice: toolChoice, parallel_tool_calls: parallel, ...rest } = parameters;
  const request: ChatCompletionRequest = { ...rest, messages: [...messages] };
  if (tools.length === 0) return request; // tool_choice and parallel_tool_calls are rejected without tools
  request.tools = tools;
  // A forced choice ("required", or one named function) applies to the first step only; kept on
  // later steps it would force a tool call forever and the answer would never come.
  if (toolChoice !== undefined)
    request.tool_choice = step > 1 && FORCING_TOOL_CHOICES(toolChoice) ? "auto" : (toolChoice as ChatCompletionRequest["tool_choice"]);
  if (parallel !== undefined) request.parallel_tool_calls = parallel;
  return request;
}

/** Runs the step's server calls in parallel; a call with a result already (`done`, from a checkpoint) is not run again. */
function runServerCalls(
  input: ToolLoopInput,
  serverTools: Map<string, ServerTool>,
  calls: NormalizedToolCall[],
  /** The step's server calls in the model's order: a call's position there is part of its idempotency key. */
  order: readonly string[],
  step: number,
  done: ReadonlyMap<string, ToolMessage>,
  decisions: Readonly<Record<string, CallDecision>>,
  onResult: (message: ToolMessage) => void,
): Promise<ToolMessage[]> {
  const parent = input.context.traceparent;
  return Promise.all(
    calls.map(async (call, index): Promise<ToolMessage> => {
      const earlier = done.get(call.call.id);
      if (earlier) return earlier;
      const started = Date.now();
      // Each call is its own span of the turn's trace; the tool Worker is told which, so its work joins it.
      const callTrace = parent ? childOf(parent) : undefined;
      // Its place in the step as the model made it (a parked step runs only some of its calls).
      const position = order.includes(call.call.id) ? order.indexOf(call.call.id) : index;
      const decision = decisions[call.call.id];
      const outcome = (decision ? refusal(call, decision) : null) ?? (await runOne(input, serverTools, call, step, position, callTrace));
      const message = toToolMessage(call, outcome, input.limits.maxToolOutputChars);
      const tool = serverTools.get(call.call.function.name);
      notify(() =>
        input.hooks?.onToolResult?.({
          step,
          call,
          outcome,
          durationMs: Date.now() - started,
          content: typeof message.content === "string" ? message.content : JSON.stringify(message.content),
          ...(tool ? { tool } : {}),
          ...(callTrace ? { traceparent: callTrace } : {}),
        }),
      );
      // A result that came back after the turn was cut short is the abort's, not the tool's: not kept.
      if (!input.signal?.aborted) onResult(message);
      return message;
    }),
  );
}

async function runOne(
  input: ToolLoopInput,
  serverTools: Map<string, ServerTool>,
  call: NormalizedToolCall,
  step: number,
  position: number,
  callTrace: string | undefined,
): Promise<ToolOutcome> {
  const name = call.call.function.name;
  if (position >= input.limits.maxToolCallsPerStep) {
    return { ok: false, type: "too_many_tool_calls", message: `Not run: at most ${input.limits.maxToolCallsPerStep} tool calls are run per step.` };
  }
  const tool = serverTools.get(name);
  if (!tool) {
    const available = [...serverTools.keys()].join(", ") || "none";
    return { ok: false, type: "unknown_tool", message: `There is no tool named "${name}". Available tools: ${available}.` };
  }
  if (!call.arguments.ok) {
    return { ok: false, type: "invalid_arguments", message: `Invalid arguments for ${name}: ${call.arguments.error}. Call it again with a JSON object.` };
  }
  const problems = tool.validate(call.arguments.value);
  if (problems.length > 0) {
    return { ok: false, type: "invalid_arguments", message: `Invalid arguments for ${name}: ${problems.join("; ")}. Fix them and call again.` };
  }
  const context: ToolCallContext = {
    ...input.context,
    tool_call_id: call.call.id,
    turn_id: input.turnId,
    // Not the model's call id: a re-run turn gets new call ids from the model, but the same turn id,
    // step, position and tool, so it asks the tool for the same effect under the same key.
    idempotency_key: `${input.context.tenant}:${input.context.conversation_id ?? input.context.request_id}:${input.resume?.keyTurnId ?? input.turnId}:${step}:${position}:${name}`,
    ...(callTrace ? { traceparent: callTrace } : {}),
  };
  const invokeOptions = input.signal ? { timeoutMs: input.limits.toolTimeoutMs, signal: input.signal } : { timeoutMs: input.limits.toolTimeoutMs };
  return input.registry.invoke(tool, call.arguments.value, context, invokeOptions);
}

function waitsForApproval(input: ToolLoopInput, serverTools: Map<string, ServerTool>, call: NormalizedToolCall): boolean {
  const tool = serverTools.get(call.call.function.name);
  // A call that cannot run (no such tool, arguments that do not fit) fails as it would anyway: nobody is asked about it.
  if (!tool || !input.needsApproval || !call.arguments.ok || tool.validate(call.arguments.value).length > 0) return false;
  return input.needsApproval(tool, call.arguments.value);
}

/** A decided call that must not run: the denial (or expiry, or changed arguments) as its outcome; null when it runs as approved. */
function refusal(call: NormalizedToolCall, decision: CallDecision): ToolOutcome | null {
  const name = call.call.function.name;
  if (decision.status === "expired") return { ok: false, type: "approval_expired", message: `Not run: nobody approved this call of ${name} in time.` };
  if (!decision.approve) {
    const why = decision.reason ? `: ${decision.reason}` : ".";
    return { ok: false, type: "approval_denied", message: `Not run: a person denied this call of ${name}${why}` };
  }
  // Approved arguments are bound to the call: anything else is not what the person approved.
  if (decision.arguments !== call.call.function.arguments) {
    return { ok: false, type: "approval_mismatch", message: `Not run: the arguments differ from the ones approved for ${name}.` };
  }
  return null;
}

/** Tool output is data for the model: a result as JSON text, a failure as an `error` object. Never empty. */
export function toToolMessage(call: NormalizedToolCall, outcome: ToolOutcome, maxChars: number): ToolMessage {
  let content: string;
  if (outcome.ok) {
    content = typeof outcome.result === "string" && outcome.result.length > 0 ? outcome.result : JSON.stringify(outcome.result ?? null);
  } else {
    content = JSON.stringify({ error: { type: outcome.type, message: outcome.message } });
  }
  if (content.length > maxChars) {
    content = `${truncate(content, maxChars)}\n[Tool output cut at ${maxChars} of ${content.length} characters.]`;
  }
  return { role: "tool", tool_call_id: call.call.id, content };
}

function withoutToolCalls(message: AssistantMessage, maxSteps: number): AssistantMessage {
  const { tool_calls: _dropped, ...rest } = message;
  const content =
    typeof message.content === "string" && message.content.length > 0 ? message.content : `I stopped after ${maxSteps} tool steps without reaching an answer.`;
  return { ...rest, content };
}

function finish(
  completion: ChatCompletion,
  message: AssistantMessage,
  finishReason: string,
  messages: ChatMessage[],
  usage: Usage | null,
  steps: number,
): TurnResult {
  const [first, ...others] = completion.choices;
  const choice = { ...(first ?? { index: 0 }), index: 0, message, finish_reason: finishReason };
  return {
    completion: { ...completion, choices: [choice, ...others], usage },
    messages,
    usage,
    steps,
  };
}

function toolCallIdsIn(messages: readonly ChatMessage[]): string[] {
  const ids: string[] = [];
  for (const message of messages) {
    if (message.role === "assistant") for (const call of message.tool_calls ?? []) ids.push(call.id);
  }
  return ids;
}
