// Turns on an existing, warm conversation (issue 21): what a client continuing a chat sends, one short
// user message with the conversation's id, the history kept by Switchboard and not sent again.
//
// Each connection of a load run keeps its own conversation, because a conversation takes one turn at
// a time (a second concurrent turn waits or gets 409 conversation_busy): it creates one with a first,
// untimed request (no conversation_id; the id comes back in X-Conversation-Id and the JSON body), then
// sends `turns` timed turns on it, then starts the next. Renewing bounds the history: the model is sent
// the whole conversation on every turn and the store keeps all of it, so a conversation thousands of
// turns long (what a closed loop reaches in seconds) would measure its length, not a warm turn.

import { requestBody } from "./setup.mjs";

/** Fails the schema's id check: a turn whose conversation was never created is an error, never a new conversation. */
const NO_CONVERSATION = "!no-conversation";

/** A turn's body on conversation `id`: one short user message. */
export const turnBody = (prompt, id) => requestBody(prompt, { conversation_id: id });

/** The conversation a response names: its X-Conversation-Id header, else the body's conversation_id. */
export function conversationIdOf(headers, text) {
  for (const [name, value] of Object.entries(headers ?? {})) if (name.toLowerCase() === "x-conversation-id" && value) return String(value);
  try {
    const id = JSON.parse(text)?.conversation_id;
    return typeof id === "string" && id ? id : null;
  } catch {
    return null;
  }
}

/**
 * autocannon's per-connection sequence for runLoad: [create, turn × turns], repeated (autocannon clears a
 * connection's context when it starts the sequence again, so the next create starts afresh). `untimed`
 * says whether the response runLoad is looking at answered a create: autocannon calls the request's
 * onResponse and then, synchronously, emits that response's event, so one flag serves every connection.
 */
export function conversationLoad({ prompt, turns }) {
  let lastWasCreate = false;
  const create = {
    body: requestBody(prompt),
    onResponse: (status, text, context, headers) => {
      lastWasCreate = true;
      context.conversationId = status >= 200 && status < 300 ? conversationIdOf(headers, text) : null;
    },
  };
  const turn = {
    setupRequest: (request, context) => ({ ...request, body: turnBody(prompt, context.conversationId ?? NO_CONVERSATION) }),
    onResponse: () => {
      lastWasCreate = false;
    },
  };
  return { requests: [create, ...Array.from({ length: turns }, () => turn)], untimed: () => lastWasCreate };
}
