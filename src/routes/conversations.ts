// GET /v1/conversations: the tenant's conversations, a page at a time. GET and DELETE
// /v1/conversations/:id: read back what a conversation holds (each turn with its trace), or forget it
// (with what the tools keep for it).

import { Hono } from "hono";
import { InvalidCursorError } from "../conversations/homes.js";
import type { ConversationPage } from "../conversations/turns.js";
import { messagesOf } from "../conversations/turns.js";
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
  let page: ConversationPage;
  try {
    page = await c.get("services").homes.list(c.get("tenant"), { limit, ...(cursor ? { cursor } : {}) });
  } catch (error) {
    if (error instanceof InvalidCursorError) throw invalidRequest(error.message, "cursor", "invalid_cursor");
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
  const conversation = await c.get("services").homes.read(c.get("tenant"), id);
  if (!conversation) throw new ApiError(404, `No conversation ${id}.`, { code: "conversation_not_found" });
  const first = conversation.turns[0];
  const last = conversation.turns[conversation.turns.length - 1];
  return c.json({
    id,
    object: "conversation",
    created_at: Math.floor((first?.started_at ?? 0) / 1000),
    updated_at: Math.floor((last?.completed_at ?? 0) / 1000),
    messages: messagesOf(conversation.turns),
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

// The home is tombstoned first, so no turn in flight or waiting, and no copy written behind, can
// bring the conversation back; its KV copy and directory entry go with it. Then every tool that
// keeps data per conversation forgets it: if one cannot, the answer is a 502, and the DELETE can be
// retried (the tools are asked again). Tool data may exist without a stored conversation (a turn
// that saved a note, then failed).
conversations.delete("/conversations/:id", async (c) => {
  const id = conversationId(c.req.param("id"));
  const tenant = c.get("tenant");
  const { registry, budget, homes } = c.get("services");
  const deleted = await homes.remove(tenant, id);
  const tools = await forgetInTools(c.env, await registry.list(), { tenant, conversation_id: id }, budget);
  if (!tools.ok) {
    throw new ApiError(502, `Tool ${tools.failed.join(", ")} could not forget the conversation; ${deleted ? "its turns are deleted. " : ""}Retry the DELETE.`, {
      code: "tool_forget_failed",
    });
  }
  const forgottenByTools = Object.values(tools.forgotten).reduce((sum, count) => sum + count, 0);
  if (!deleted && forgottenByTools === 0) throw new ApiError(404, `No conversation ${id}.`, { code: "conversation_not_found" });
  return c.json({ id, object: "conversation.deleted", deleted: true, tools: tools.forgotten });
});
