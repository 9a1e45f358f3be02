// The writing end of a door's SSE stream, and the response body it feeds. A turn starts sending
// before the response exists (its first events come as the upstream stream opens): they wait in the
// body's queue and go out as soon as the response is read. A write resolves once the reader has taken
// what was queued and asks for more, so a slow client slows the turn instead of piling events up in
// memory; once the client is gone, writes resolve at once and go nowhere. Silences longer than the
// keep-alive get a comment.
//
// One ReadableStream written directly, not hono's streamSSE: that helper puts a TransformStream, a
// second ReadableStream reading it and a writer between an event and the client, and every event (the
// first token among them) crosses all three; building them is a measurable share of a streamed turn.

import type { JsonObject } from "../protocol/types.js";

const encoder = new TextEncoder();

export class SseOutbox {
  readonly body: ReadableStream<Uint8Array>;
  private controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  private waiting: Array<() => void> = [];
  private done = false;
  private cancelled: (() => void) | null = null;
  private lastWrite = Date.now();
  private keepAliveTimer: ReturnType<typeof setTimeout> | null = null;

  constructor() {
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
      },
      // Called when the reader asks for more and the queue is empty: writers waiting for room go on.
      pull: () => this.release(),
      cancel: () => {
        this.end();
        this.cancelled?.();
      },
    });
  }

  /** Writes a JSON event; `event` names it on an `event:` line (the Responses stream does, chat chunks do not). */
  send(data: JsonObject, event?: string): Promise<void> {
    return this.sendRaw(JSON.stringify(data), event);
  }

  sendRaw(data: string, event?: string): Promise<void> {
    // A data line cannot hold a line break: each line of the payload is a `data:` line of its own.
    const lines = data.includes("\n") || data.includes("\r") ? data.split(/\r\n|\r|\n/).join("\ndata: ") : data;
    return this.write(event === undefined ? `data: ${lines}\n\n` : `event: ${event}\ndata: ${lines}\n\n`);
  }

  comment(text: string): Promise<void> {
    return this.write(`: ${text}\n\n`);
  }

  /** The client closed the response. */
  onCancel(listener: () => void): void {
    this.cancelled = listener;
  }

  /** A comment after every `everyMs` without a write (proxies and clients time out on silence). */
  keepAlive(everyMs: number): void {
    const check = () => {
      if (this.done) return;
      const idle = Date.now() - this.lastWrite;
      if (idle >= everyMs) void this.comment("keep-alive");
      this.keepAliveTimer = setTimeout(check, idle >= everyMs ? everyMs : everyMs - idle);
    };
    this.keepAliveTimer = setTimeout(check, everyMs);
  }

  /** Ends the stream once what was written has been read. */
  close(): void {
    if (this.done) return;
    this.end();
    this.controller?.close();
  }

  private write(text: string): Promise<void> {
    if (this.done || !this.controller) return Promise.resolve();
    this.lastWrite = Date.now();
    this.controller.enqueue(encoder.encode(text));
    if ((this.controller.desiredSize ?? 0) > 0) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private end(): void {
    this.done = true;
    if (this.keepAliveTimer !== null) clearTimeout(this.keepAliveTimer);
    this.release();
  }

  private release(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}
