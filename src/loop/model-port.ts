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

/** The same model asked again after a failure it may recover from. */
export interface ModelRetryEvent {
  attempt: number;
  delayMs: number;
  status: number | null;
  message: string;
}

/** The next configured model asked after the previous one kept failing. */
export interface ModelFallbackEvent {
  from: string;
  to: string;
  reason: string;
}

export interface ModelCallOptions {
  signal?: AbortSignal;
  /** Told of each retry and fallback of this call, as they happen (a trace keeps them). */
  onRetry?: (event: ModelRetryEvent) => void;
  onFallback?: (event: ModelFallbackEvent) => void;
}

export interface ModelPort {
  /** The model used when a request names none. */
  readonly defaultModel: string;
  complete(request: ChatCompletionRequest, options?: ModelCallOptions): Promise<ChatCompletion>;
  stream(request: ChatCompletionRequest, listener: StreamListener, options?: ModelCallOptions): Promise<ChatCompletion>;
}
