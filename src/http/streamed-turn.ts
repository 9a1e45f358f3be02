// What every streaming door does with a turn, whatever its event format: run it with its steps
// streamed, answer only once the first upstream stream has opened (so a request the model refuses
// still gets a plain HTTP error), then answer with the door's event stream (sse-outbox) with
// keep-alive comments, stop the turn when the client goes away, and let the turn outlive the request
// so what the client saw is stored. The door says what to send on the way and at the end.

import type { Context } from "hono";
import type { StepStreamListener } from "../loop/tool-loop.js";
import type { CompletedTurn, TurnOptions, TurnRequest } from "../run-turn.js";
import { runTurn } from "../run-turn.js";
import type { AppEnv } from "../types.js";
import type { SseOutbox } from "./sse-outbox.js";

/** The client closed the stream: the turn stops, and what it saw is kept. */
export class ClientGoneError extends Error {
  constructor() {
    super("The client closed the stream.");
    this.name = "ClientGoneError";
  }
}

export interface StreamedTurnDoor {
  out: SseOutbox;
  hooks?: TurnOptions["hooks"];
  /** What the door commits beside the turn. */
  products?: TurnOptions["products"];
  /** The first model stream opened: the door's opening events. */
  onFirstOpen: () => void;
  onDelta: StepStreamListener["onDelta"];
  /** The turn finished: the door's closing events. */
  finish: (completed: CompletedTurn) => Promise<void>;
  /** The turn failed after the stream started (never called for a client that went away). */
  fail: (error: unknown) => Promise<void>;
  /** Called once the turn has ended either way, the client gone included. */
  settled?: (outcome: { ok: boolean }) => void;
}

export async function respondWithStreamedTurn(c: Context<AppEnv>, request: TurnRequest, door: StreamedTurnDoor): Promise<Response> {
  const clientGone = new AbortController();
  let opened: () => void = () => undefined;
  const firstOpen = new Promise<void>((resolve) => {
    opened = resolve;
  });
  const turn = runTurn(
    c.get("services"),
    { ...request, signal: clientGone.signal },
    {
      ...(door.hooks ? { hooks: door.hooks } : {}),
      ...(door.products ? { products: door.products } : {}),
      // The commit must not hold up what the client was already sent: one turn of the event loop
      // lets the runtime write the queued events out first (locally the home shares the thread).
      beforeStore: () => new Promise((resolve) => setTimeout(resolve, 0)),
      stream: {
        onOpen: (step) => {
          if (step !== 1) return;
          door.onFirstOpen();
          opened();
        },
        onDelta: door.onDelta,
      },
    },
  );
  // Before the first stream opens, a failure is an ordinary HTTP error (thrown here) and nothing is stored.
  await Promise.race([firstOpen, turn]);
  // A client that goes away ends the turn, which then stores what it saw: that must outlive the request.
  c.executionCtx.waitUntil(turn.catch(() => undefined));

  const { out } = door;
  out.onCancel(() => clientGone.abort(new ClientGoneError()));
  // Comments keep proxies and clients from timing out while tools run; every SSE client ignores them.
  out.keepAlive(c.get("config").streamKeepAliveMs);
  const write = async () => {
    try {
      const completed = await turn;
      await door.finish(completed);
      door.settled?.({ ok: true });
    } catch (error) {
      door.settled?.({ ok: false });
      if (!(error instanceof ClientGoneError)) await door.fail(error);
    }
  };
  void write()
    .catch((error: unknown) => c.get("log").error("stream_write_failed", { message: error instanceof Error ? error.message : String(error) }))
    .finally(() => out.close());
  c.header("Content-Type", "text/event-stream");
  c.header("Cache-Control", "no-cache");
  c.header("Connection", "keep-alive");
  c.header("Transfer-Encoding", "chunked");
  return c.body(out.body);
}
