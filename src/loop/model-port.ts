// The model port: the one object every door hands the tool loop, and all the loop knows of a model.
// `complete` answers at once; `stream` hands each text delta to a listener as it arrives and
// resolves to the same completion `complete` would have returned. The upstream module implements
// it (src/upstream/model.ts); tests implement it with a script.

import type { ChatCompletion, ChatCompletionRequest } from "../protocol/types.js";

/** What a streamed step adds that a client may see as it arrives. */
export interface StreamDelta {
  content?: string;
  reasoning_content?: string;
  refusal?: string;
}

export interface StreamListener {
  /** The upstream answered 2xx and the stream is open: from here on, nothing is retried. */
  onOpen?: () => void;
  /** Awaited, so a slow reader slows the upstream read rather than piling deltas up in memory. */
  onDelta: (delta: StreamDelta) => void | Promise<void>;
}

export interface ModelPort {
  /** The model used when a request names none. */
  readonly defaultModel: string;
  complete(request: ChatCompletionRequest, options?: { signal?: AbortSignal }): Promise<ChatCompletion>;
  stream(request: ChatCompletionRequest, listener: StreamListener, options?: { signal?: AbortSignal }): Promise<ChatCompletion>;
}
