// Stateless mixed steps. When one model step calls a server tool and a client function together,
// the server's call runs at once and only the client's call goes back to the client. A client
// continuing without a conversation_id (the Vercel AI SDK, openai `runTools`, the Agents SDK)
// resends that assistant message with the client's call alone, so the model would never see the
// server results. Such steps are remembered for a bounded time, keyed by the client call ids they
// handed out (which carry a prefix, so only their messages cost a lookup), and put back in place
// when a later request of the same tenant carries them.

import type { KvWriter } from "../conversations/kv-writes.js";
import { commitKey, readThrough } from "../conversations/kv-writes.js";
import { sha256Hex } from "../lib/hash.js";
import type { AssistantMessage, ChatMessage, ToolMessage } from "../protocol/types.js";

/** Client call ids of a mixed step start with this; no other id does. */
export const MIXED_STEP_ID_PREFIX = "call_sbx_";
/** How long a mixed step can be continued statelessly. */
export const MIXED_STEP_TTL_SECONDS = 86_400;

export interface MixedStep {
  /** The assistant message as the model sent it: server and client calls. */
  assistant: AssistantMessage;
  /** The server calls' results, in call order. */
  results: ToolMessage[];
}

export interface MixedSteps {
  remember(tenant: string, step: MixedStep): Promise<void>;
  /** The messages with every remembered step of this tenant put back in place. */
  restore(tenant: string, messages: readonly ChatMessage[]): Promise<ChatMessage[]>;
}

/** Steps are committed through `writer` (the journal in production) and read back through it. */
export function createMixedSteps(kv: KVNamespace, writer: KvWriter): MixedSteps {
  const keyOf = async (tenant: string, callId: string) => `mixed-steps/${encodeURIComponent(tenant)}/${await sha256Hex(callId, 16)}`;
  const firstMarked = (message: ChatMessage) =>
    message.role === "assistant" ? message.tool_calls?.find((call) => call.id.startsWith(MIXED_STEP_ID_PREFIX))?.id : undefined;

  return {
    async remember(tenant, step) {
      const marked = firstMarked(step.assistant);
      if (!marked) return;
      await commitKey(writer, await keyOf(tenant, marked), JSON.stringify(step), MIXED_STEP_TTL_SECONDS);
    },

    async restore(tenant, messages) {
      const lookups = messages.map(async (message) => {
        const marked = firstMarked(message);
        if (!marked) return null;
        const stored = await readThrough(kv, writer, await keyOf(tenant, marked));
        return stored === null ? null : (JSON.parse(stored) as MixedStep);
      });
      const steps = await Promise.all(lookups);
      if (steps.every((step) => step === null)) return [...messages];
      const restored: ChatMessage[] = [];
      messages.forEach((message, index) => {
        const step = steps[index];
        if (!step || message.role !== "assistant") {
          restored.push(message);
          return;
        }
        const sent = new Set((message.tool_calls ?? []).map((call) => call.id));
        const missing = step.results.filter((result) => !sent.has(result.tool_call_id));
        // Already whole (the client kept every call), or not the step we handed out: leave it.
        const handedOut = (step.assistant.tool_calls ?? []).filter((call) => call.id.startsWith(MIXED_STEP_ID_PREFIX));
        if (missing.length === 0 || !handedOut.every((call) => sent.has(call.id))) {
          restored.push(message);
          return;
        }
        restored.push(step.assistant, ...missing);
      });
      return restored;
    },
  };
}
