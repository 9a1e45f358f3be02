// GET /v1/conversations: the tenant's conversations, a page at a time. GET and DELETE
// /v1/conversations/:id: read back what a conversation holds (each turn with its trace), or forget it
// (with what the tools keep for it).

import { Hono } from "hono";
import type { ConversationStore } from "../conversations/store.js";
import { messagesOf } from "../conversations/store.js";
import { ApiError, invalidRequest } from "../errors.js";
import { CONVERSATION_ID } from "../protocol/request-schema.js";
import { forgetInTools } from "../tools/forget.js";
import type { AppEnv } from "../types.js";

export const conversations = new Hono<AppEnv>();

function conversationId(id: string): string {
  if (!CONVERSATION_ID.test(id)) throw invalidRequest("Invalid conversation id.", "id");
  return id;
}

/** Conversations per page unless the client asks for another number (1 to MAX_PAGE). */
const DEFAULT_PAGE = 20;
const MAX_PAGE = 100;
const MAX_CURSOR_CHARS = 1024;

conversations.get("/conversations", async (c) => {
  const limitText = c.req.query("limit");
  const limit = limitText === undefined ? DEFAULT_PAGE : Number(limitText);
  if (!/^\d+$/.test(limitText ?? "1") || !Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw invalidRequest(`limit must be a whole number from 1 to ${MAX_PAGE}.`, "limit");
  }
  const cursor = c.req.query("cursor");
  if (cursor !== undefined && (cursor.length === 0 || cursor.length > MAX_CURSOR_CHARS)) throw invalidRequest("Invalid cursor.", "cursor");
  let page: Awaited<ReturnType<ConversationStore["list"]>>;
  try {
    page = await c.get("services").store.list(c.get("tenant"), { limit, ...(cursor ? { cursor } : {}) });
  } catch (error) {
    // KV refuses a cursor it did not hand out; without one, a failure is ours.
    if (cursor) throw invalidRequest("Invalid cursor: pass back a next_cursor exactly as it was received.", "cursor", "invalid_cursor");
    throw error;
  }
  return c.json({
    object: "list",
    data: page.conversations.map((conversation) => ({
      id: conversation.id,
      object: "conversation",
      title: conversation.title,
      turn_count: conversation.turns,
      bytes: conversation.bytes,
      created_at: conversation.created_at === null ? null : Math.floor(conversation.created_at / 1000),
      updated_at: conversation.updated_at === null ? null : Math.floor(conversation.updated_at / 1000),
    })),
    has_more: page.cursor !== null,
    next_cursor: page.cursor,
  });
});

conversations.get("/conversations/:id", async (c) => {
  const id = conversationId(c.req.param("id"));
  const conversation = await c.get("services").store.load(c.get("tenant"), id);
  if (!conversation) throw new ApiError(404, `No conversation ${id}.`, { code: "conversation_not_found" });
  const first = conversation.turns[0];
  const last = conversation.turns[conversation.turns.length - 1];
  return c.json({
    id,
    object: "conversation",
    created_at: Math.floor((first?.started_at ?? 0) / 1000),
    updated_at: Math.floor((last?.completed_at ?? 0) / 1000),
    messages: messagesOf(conversation),
    turns: conversation.turns.map((turn) => ({
      id: turn.id,
      started_at: Math.floor(turn.started_at / 1000),
      completed_at: Math.floor(turn.completed_at / 1000),
      incomplete: turn.incomplete,
      message_count: turn.messages.length,
      trace: turn.trace ?? null,
    })),
  });
});

// The tools forget first: if one cannot, the conversation is kept and the DELETE can be retried.
// Tool data may exist without a stored conversation (a turn that saved a note, then failed).
conversations.delete("/conversations/:id", async (c) => {
  const id = conversationId(c.req.param("id"));
  const tenant = c.get("tenant");
  const { registry, budget } = c.get("services");
  const tools = await forgetInTools(c.env, await registry.list(), { tenant, conversation_id: id }, budget);
  if (!tools.ok) {
    throw new ApiError(502, `Tool ${tools.failed.join(", ")} could not forget the conversation; nothing was deleted. Retry the DELETE.`, {
      code: "tool_forget_failed",
    });
  }
  const { store, responses } = c.get("services");
  // The Responses objects that answered its turns go first: if one cannot be deleted, the
  // conversation is kept and the DELETE can be retried.
  const conversation = await store.load(tenant, id);
  const responseIds = (conversation?.turns ?? []).flatMap((turn) => (turn.response_id ? [turn.response_id] : []));
  await Promise.all(responseIds.map((responseId) => responses.delete(tenant, responseId)));
  const deleted = await store.delete(tenant, id);
  const forgottenByTools = Object.values(tools.forgotten).reduce((sum, count) => sum + count, 0);
  if (!deleted && forgottenByTools === 0) throw new ApiError(404, `No conversation ${id}.`, { code: "conversation_not_found" });
  return c.json({ id, object: "conversation.deleted", deleted: true, tools: tools.forgotten });
});
