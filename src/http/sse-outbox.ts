// The writing end of a door's SSE stream. A turn starts sending before the response exists (its
// first events come as the upstream stream opens), so events are held until the stream is attached,
// then written in order. Tracks silence for keep-alive comments.

import type { SSEStreamingApi } from "hono/streaming";
import type { JsonObject } from "../protocol/types.js";

export class SseOutbox {
  private sse: SSEStreamingApi | null = null;
  private readonly early: Array<{ data: string; event?: string }> = [];
  private lastWrite = Date.now();

  attach(sse: SSEStreamingApi): void {
    this.sse = sse;
    for (const message of this.early.splice(0)) void this.write(message);
  }

  /** Writes a JSON event; `event` names it on an `event:` line (the Responses stream does, chat chunks do not). */
  send(data: JsonObject, event?: string): Promise<void> {
    return this.sendRaw(JSON.stringify(data), event);
  }

  sendRaw(data: string, event?: string): Promise<void> {
    const message = event === undefined ? { data } : { data, event };
    if (!this.sse) {
      this.early.push(message);
      return Promise.resolve();
    }
    return this.write(message);
  }

  comment(text: string): Promise<void> {
    this.lastWrite = Date.now();
    return this.sse ? this.sse.write(`: ${text}\n\n`).then(() => undefined) : Promise.resolve();
  }

  idleFor(): number {
    return Date.now() - this.lastWrite;
  }

  private write(message: { data: string; event?: string }): Promise<void> {
    this.lastWrite = Date.now();
    return this.sse?.writeSSE(message) ?? Promise.resolve();
  }
}
