// The caller's side of the run engine, as the composition root hands it to the doors: start a turn
// as a run in its conversation's home and read its events, pick a background response's stream up
// again, cancel it, list its input items; or run a turn that keeps nothing right here, in the
// request, on the same engine (there is nothing to outlive the request for).

import type { FollowOutcome } from "../conversations/home.js";
import { homeByHex, homeHexOf, homeId, homeOf } from "../conversations/names.js";
import type { Env } from "../env.js";
import { randomToken } from "../lib/ids.js";
import type { InputItem } from "../protocol/responses/input-items.js";
import type { Services } from "../services.js";
import { executeRun, RunCancelledError } from "./execute.js";
import type { CancelOutcome } from "./host.js";
import type { ResponsesDoor, RunEvent, RunSpec, RunState, SequencedEvent } from "./types.js";
import { isTerminal } from "./types.js";

export type Followed = Exclude<FollowOutcome, { status: "ok" }> | { status: "ok"; events: AsyncIterable<SequencedEvent>; door: ResponsesDoor };

export interface Runs {
  /** Starts the run in its conversation's home and follows it until `stop` (the client went away; the run goes on). */
  start(spec: RunSpec, stop?: AbortSignal): Promise<AsyncIterable<SequencedEvent>>;
  /** Starts the run and leaves it: nobody waits (background). */
  launch(spec: RunSpec): Promise<void>;
  /** A background response's events from the start (the door skips what its client saw). */
  follow(tenant: string, responseId: string, startingAfter: number | null, stop?: AbortSignal): Promise<Followed>;
  cancel(tenant: string, responseId: string): Promise<CancelOutcome>;
  inputItems(tenant: string, responseId: string): Promise<InputItem[] | null>;
  /** An MCP task as it stands, if it is this tenant's. */
  task(tenant: string, taskId: string): Promise<RunState | null>;
  cancelTask(tenant: string, taskId: string): Promise<CancelOutcome>;
  /** An id for a new MCP task of this conversation: it names the home that keeps the task. */
  taskId(tenant: string, conversationId: string): string;
  /** A turn that keeps nothing, run in the request; `signal` is the client going away. */
  inline(services: Services, spec: RunSpec, signal: AbortSignal): AsyncIterable<SequencedEvent>;
}

export function createRuns(env: Env): Runs {
  const home = (spec: RunSpec) => homeOf(env, spec.turn.tenant, spec.turn.conversationId);
  /** The home a response or task id names, or null for an id that names none of ours. */
  const homeNamedBy = (prefix: "resp" | "task", id: string) => {
    const hex = homeHexOf(prefix, id);
    return hex ? homeByHex(env, hex) : null;
  };
  const byResponse = (responseId: string) => homeNamedBy("resp", responseId);
  return {
    async start(spec, stop) {
      const events = await home(spec).startRun(spec, true);
      if (!events) throw new Error("The run's home answered no events.");
      return readEvents(events, stop);
    },
    async launch(spec) {
      await home(spec).startRun(spec, false);
    },
    async follow(tenant, responseId, startingAfter, stop) {
      // RPC's types lose a stream inside a union; the object answers exactly a FollowOutcome.
      const outcome = ((await byResponse(responseId)?.followRun(tenant, responseId, startingAfter)) as FollowOutcome | undefined) ?? {
        status: "not_found" as const,
      };
      return outcome.status === "ok" ? { status: "ok", events: readEvents(outcome.events, stop), door: outcome.door } : outcome;
    },
    async cancel(tenant, responseId) {
      return (await byResponse(responseId)?.cancelRun(tenant, responseId)) ?? null;
    },
    async inputItems(tenant, responseId) {
      return (await byResponse(responseId)?.inputItems(tenant, responseId, responseId.slice("resp_".length))) ?? null;
    },
    async task(tenant, taskId) {
      return (await homeNamedBy("task", taskId)?.runState(tenant, taskId)) ?? null;
    },
    async cancelTask(tenant, taskId) {
      return (await homeNamedBy("task", taskId)?.cancelTask(tenant, taskId)) ?? null;
    },
    taskId: (tenant, conversationId) => `task_${homeId(env, tenant, conversationId).toString()}${randomToken(16)}`,
    inline: (services, spec, signal) => inlineRun(services, spec, signal),
  };
}

/** NDJSON lines `{seq, event}` from the home, as events. */
export async function* readEvents(stream: ReadableStream<Uint8Array>, stop?: AbortSignal): AsyncGenerator<SequencedEvent> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  const cancel = () => void reader.cancel().catch(() => undefined);
  stop?.addEventListener("abort", cancel, { once: true });
  let buffered = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffered += value;
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const text = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (text) yield JSON.parse(text) as SequencedEvent;
        newline = buffered.indexOf("\n");
      }
    }
  } finally {
    // A door that stops reading (its client went away) stops following; the run goes on.
    stop?.removeEventListener("abort", cancel);
    await reader.cancel().catch(() => undefined);
  }
}

/** The same engine in the request: its events handed over as they come. */
async function* inlineRun(services: Services, spec: RunSpec, signal: AbortSignal): AsyncGenerator<SequencedEvent> {
  const queue: RunEvent[] = [];
  let wake: (() => void) | null = null;
  const push = (event: RunEvent) => {
    queue.push(event);
    wake?.();
  };
  push({ type: "started" });
  const controller = new AbortController();
  const stop = () => controller.abort(signal.reason ?? new RunCancelledError());
  signal.addEventListener("abort", stop, { once: true });
  void executeRun(services, spec, { event: push }, { signal: controller.signal, deadlineMs: spec.turn.deadlineMs }).then(push);
  let seq = 0;
  try {
    for (;;) {
      const event = queue.shift();
      if (!event) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = null;
        continue;
      }
      yield { seq: ++seq, event };
      if (isTerminal(event)) return;
    }
  } finally {
    signal.removeEventListener("abort", stop);
    // The door stopped reading before the end: the turn stops too (it keeps nothing for anyone).
    if (!controller.signal.aborted) controller.abort(new RunCancelledError());
  }
}
