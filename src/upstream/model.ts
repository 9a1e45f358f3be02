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
          await listener.onDelta({ ...(content ? { content } : {}), ...(reasoning_content ? { reasoning_content } : {}), ...(refusal ? { refusal } : {}) });
        }
        options.signal?.throwIfAborted();
      }
      return accumulator.toCompletion();
    },
  };
}
