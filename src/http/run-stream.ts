// What every streaming door does with a run, whatever its event format: read the run's events, and
// answer with the door's SSE stream (keep-alive comments while tools run). A door that waits for the
// first model stream to open answers a run that fails before that with a plain HTTP error, as a
// request DMXAPI refuses. The client going away stops the reading, not the run: a stored turn goes
// on in its home and lands in the conversation.

import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ApiError } from "../errors.js";
import { AlreadyAnsweredError } from "../run-turn.js";
import type { RunEvent, RunFailure, SequencedEvent, TerminalEvent } from "../runs/types.js";
import { isTerminal } from "../runs/types.js";
import type { AppEnv } from "../types.js";
import type { SseOutbox } from "./sse-outbox.js";

export interface RunStreamOptions {
  out: SseOutbox;
  /** Writes one run event as the door's events. */
  write: (event: RunEvent) => Promise<void> | void;
  /** Answer at once (a background stream), instead of once the first model stream has opened. */
  immediate?: boolean;
  /** Told once the run's stream has ended for this client: with its terminal event, or null when the client went away first. */
  ended?: (terminal: TerminalEvent | null) => void;
  /** Aborted when the client goes away. */
  clientGone: AbortController;
}

/** The client closed the stream: the door stops reading. */
export class ClientGoneError extends Error {
  constructor() {
    super("The client closed the stream.");
    this.name = "ClientGoneError";
  }
}

export async function respondWithRun(c: Context<AppEnv>, events: AsyncIterable<SequencedEvent>, options: RunStreamOptions): Promise<Response> {
  const iterator = events[Symbol.asyncIterator]();
  const early: RunEvent[] = options.immediate ? [] : await untilOpen(iterator);
  const { out } = options;
  out.onCancel(() => options.clientGone.abort(new ClientGoneError()));
  // Comments keep proxies and clients from timing out while tools run; every SSE client ignores them.
  out.keepAlive(c.get("config").streamKeepAliveMs);
  const pump = async () => {
    let terminal: TerminalEvent | null = null;
    try {
      for (const event of early) {
        await options.write(event);
        if (isTerminal(event)) terminal = event;
      }
      while (!terminal) {
        const next = await iterator.next();
        if (next.done) break;
        await options.write(next.value.event);
        if (isTerminal(next.value.event)) terminal = next.value.event;
      }
    } finally {
      options.ended?.(terminal);
    }
  };
  void pump()
    .catch((error: unknown) => c.get("log").error("stream_write_failed", { message: error instanceof Error ? error.message : String(error) }))
    .finally(() => out.close());
  c.header("Content-Type", "text/event-stream");
  c.header("Cache-Control", "no-cache");
  c.header("Connection", "keep-alive");
  c.header("Transfer-Encoding", "chunked");
  return c.body(out.body);
}

/** Reads until the first model stream opened (or the run ended); a run that failed before that throws its error. */
async function untilOpen(iterator: AsyncIterator<SequencedEvent>): Promise<RunEvent[]> {
  const seen: RunEvent[] = [];
  for (;;) {
    const next = await iterator.next();
    if (next.done) throw new ApiError(502, "The run ended without an answer.", { type: "server_error", code: "run_lost" });
    const { event } = next.value;
    throwIfEndedBadly(event);
    seen.push(event);
    if (event.type === "open" || isTerminal(event)) return seen;
  }
}

/** Reads a run to its end: its terminal event, or the error it failed with. */
export async function runToEnd(
  events: AsyncIterable<SequencedEvent>,
  each?: (event: RunEvent) => void,
): Promise<Extract<TerminalEvent, { type: "completed" | "cancelled" }>> {
  for await (const { event } of events) {
    each?.(event);
    throwIfEndedBadly(event);
    if (event.type === "completed" || event.type === "cancelled") return event;
  }
  throw new ApiError(502, "The run ended without an answer.", { type: "server_error", code: "run_lost" });
}

function throwIfEndedBadly(event: RunEvent): void {
  if (event.type === "failed") throw failureError(event.failure);
  if (event.type === "replayed") throw new AlreadyAnsweredError(event.record);
}

export function failureError(failure: RunFailure): ApiError {
  const { message, type, param, code } = failure.body.error;
  return new ApiError(failure.status as ContentfulStatusCode, message, { type, param, code, headers: failure.headers });
}
