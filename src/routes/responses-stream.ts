// `stream: true` on POST /v1/responses, and `GET /v1/responses/{id}?stream=true`: the run's events,
// written as the Responses event stream by the run's Responses view (the same numbering for every
// reader, so a client resuming with `starting_after` gets exactly what it missed). This file keeps
// only HTTP: the SSE response, and skipping what a resuming client already has.
//
// A foreground stream starts once the first upstream stream has opened, so a request DMXAPI refuses
// gets a plain HTTP error; after that a failure ends the stream with an `error` event and
// `response.failed`. A background stream starts at once, with the response `queued`.

import type { Context } from "hono";
import { respondWithRun } from "../http/run-stream.js";
import { SseOutbox } from "../http/sse-outbox.js";
import type { ResponseEvent, ResponseObject } from "../protocol/responses/types.js";
import type { NumberedEvent } from "../runs/responses-view.js";
import { ResponsesView } from "../runs/responses-view.js";
import type { ResponsesDoor, SequencedEvent, TerminalEvent } from "../runs/types.js";
import type { AppEnv } from "../types.js";

export interface RunStreamOptions {
  clientGone: AbortController;
  /** Answer at once (background), not once the first model stream has opened. */
  immediate?: boolean;
  /** Events up to this sequence number are the client's already. */
  startingAfter?: number | null;
  /** The stream ended for this client: its terminal event (null when the client left first) and the view. */
  ended?: (terminal: TerminalEvent | null, view: ResponsesView) => void;
}

export function streamRun(c: Context<AppEnv>, events: AsyncIterable<SequencedEvent>, door: ResponsesDoor, options: RunStreamOptions): Promise<Response> {
  const out = new SseOutbox();
  let written: Promise<void> = Promise.resolve();
  const after = options.startingAfter ?? -1;
  const view = new ResponsesView(door, (event: NumberedEvent) => {
    if (event.sequence_number > after) written = out.send(event, event.type);
  });
  return respondWithRun(c, events, {
    out,
    clientGone: options.clientGone,
    ...(options.immediate ? { immediate: true } : {}),
    write: (event) => {
      view.apply(event);
      return written;
    },
    ended: (terminal) => options.ended?.(terminal, view),
  });
}

/**
 * Replays a finished response (an Idempotency-Key hit) as the event stream a client reads it from:
 * created, in progress, each output item added and done, completed.
 */
export function replayResponseStream(response: ResponseObject, headers: Headers): Response {
  let sequence = 0;
  const events: ResponseEvent[] = [
    { type: "response.created", response: { ...response, status: "in_progress", output: [] } },
    { type: "response.in_progress", response: { ...response, status: "in_progress", output: [] } },
    ...response.output.flatMap((item, index): ResponseEvent[] => [
      { type: "response.output_item.added", output_index: index, item },
      { type: "response.output_item.done", output_index: index, item },
    ]),
    { type: response.status === "completed" ? "response.completed" : "response.incomplete", response },
  ];
  const text = events.map((event) => `event: ${event.type}\ndata: ${JSON.stringify({ ...event, sequence_number: sequence++ })}\n\n`).join("");
  const replayHeaders = new Headers(headers);
  replayHeaders.set("Content-Type", "text/event-stream; charset=utf-8");
  replayHeaders.set("Cache-Control", "no-cache");
  return new Response(text, { headers: replayHeaders });
}
