// Stateless mixed steps. When one model step calls a server tool and a client function together,
// the server's call runs at once and only the client's call goes back to the client. A client
// continuing without a conversation_id (the Vercel AI SDK, openai `runTools`, the Agents SDK)
// resends that assistant message with the client's call alone, so the model would never see the
// server results. The step is committed with its turn in the conversation's home, and the client
// call ids it hands out name that conversation, so a later request of the same tenant carrying them
// finds the step and the server's half is put back in place.

import type { AssistantMessage, ChatMessage, ToolMessage } from "../protocol/types.js";

/** Client call ids of a mixed step start with this; no other id does. */
export const MIXED_STEP_ID_PREFIX = "call_sbx_";
/** OpenAI refuses tool call ids over 40 characters. */
export const MIXED_STEP_ID_CHARS = 40;
/** A conversation id Switchboard minted (or derived from an Idempotency-Key): short enough to ride in a call id. */
const MINTED_CONVERSATION = /^conv_([A-Za-z0-9]{24})$/;
const LOCATED_CALL = /^call_sbx_([A-Za-z0-9]{24})[A-Za-z0-9]{7}$/;

export interface MixedStep {
  /** The assistant message as the model sent it: server and client calls. */
  assistant: AssistantMessage;
  /** The server calls' results, in call order. */
  results: ToolMessage[];
}

/**
 * How the client call ids of a mixed step in this conversation begin. Only a conversation whose id
 * Switchboard minted can be named inside a call id; a client that chose its own id sends it again
 * and needs no restoring.
 */
export function mixedStepIdPrefix(conversationId: string): string {
  const token = MINTED_CONVERSATION.exec(conversationId)?.[1];
  return token ? `${MIXED_STEP_ID_PREFIX}${token}` : MIXED_STEP_ID_PREFIX;
}

/** Random characters after the prefix: a located id fills OpenAI's 40; an unlocated one keeps 24, as ids always had. */
export function mixedStepRandomChars(prefix: string): number {
  return prefix.length > MIXED_STEP_ID_PREFIX.length ? MIXED_STEP_ID_CHARS - prefix.length : 24;
}

/** The conversation whose home keeps the step that handed out this call id, if the id names one. */
export function conversationOfCall(callId: string): string | null {
  const token = LOCATED_CALL.exec(callId)?.[1];
  return token ? `conv_${token}` : null;
}

/** The first client call id of the step that marks it as mixed. */
export function markedCallId(message: ChatMessage): string | undefined {
  return message.role === "assistant" ? message.tool_calls?.find((call) => call.id.startsWith(MIXED_STEP_ID_PREFIX))?.id : undefined;
}

/** The messages with every step `find` knows put back in place. */
export async function restoreMixedSteps(messages: readonly ChatMessage[], find: (callId: string) => Promise<MixedStep | null>): Promise<ChatMessage[]> {
  const steps = await Promise.all(
    messages.map((message) => {
      const marked = markedCallId(message);
      return marked ? find(marked) : null;
    }),
  );
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
}
