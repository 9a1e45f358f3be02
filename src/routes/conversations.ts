// GET and DELETE /v1/conversations/:id: read back what a conversation holds, or forget it (with
// what the tools keep for it).

import { Hono } from "hono";
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
  const deleted = await c.get("services").store.delete(tenant, id);
  const forgottenByTools = Object.values(tools.forgotten).reduce((sum, count) => sum + count, 0);
  if (!deleted && forgottenByTools === 0) throw new ApiError(404, `No conversation ${id}.`, { code: "conversation_not_found" });
  return c.json({ id, object: "conversation.deleted", deleted: true, tools: tools.forgotten });
});
