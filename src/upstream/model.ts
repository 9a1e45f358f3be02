// DMXAPI behind the model port (src/loop/model-port.ts): `stream` reads the upstream's SSE through
// the quirk-tolerant reader and accumulates the completion. Retries and fallbacks happen only while
// a stream opens, before a byte has reached anyone.

import type { ModelPort } from "../loop/model-port.js";
import type { ModelClient } from "./dmxapi-client.js";
import { readChunks, StreamAccumulator } from "./stream-reader.js";

export function createModelPort(client: ModelClient): ModelPort {
  return {
    defaultModel: client.defaultModel,
    complete: (request, options = {}) => client.complete(request, options),
    async stream(request, listener, options = {}) {
      const body = await client.openStream({ ...request, stream: true, stream_options: { include_usage: true } }, options);
      listener.onOpen?.();
      const accumulator = new StreamAccumulator();
      for await (const chunk of readChunks(body)) {
        const { content, reasoning_content, refusal } = accumulator.add(chunk);
        if (content || reasoning_content || refusal) {
          const handed = listener.onDelta({
            ...(content ? { content } : {}),
            ...(reasoning_content ? { reasoning_content } : {}),
            ...(refusal ? { refusal } : {}),
          });
          await untilAborted(handed, options.signal);
        }
        options.signal?.throwIfAborted();
      }
      return accumulator.toCompletion();
    },
  };
}

/**
 * Waits for a listener that may be slow on purpose (a stream's reader applies backpressure), but
 * never past the turn's signal: a client that stops reading without closing must not hold the turn
 * beyond its deadline.
 */
function untilAborted(work: void | Promise<void>, signal: AbortSignal | undefined): Promise<void> | void {
  if (!(work instanceof Promise) || !signal) return work;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    work.then(
      () => {
        signal.removeEventListener("abort", abort);
        resolve();
      },
      (error: unknown) => {
        signal.removeEventListener("abort", abort);
        reject(error);
      },
    );
  });
}
