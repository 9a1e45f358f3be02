// The orchestrator's HTTP surface. Routes are small modules; errors all end in one place.

import { Hono } from "hono";
import { ConfigError } from "./config.js";
import { ApiError, errorResponse } from "./errors.js";
import { requireApiKey } from "./middleware/auth/index.js";
import { limitBody } from "./middleware/body-limit/index.js";
import { requestContext } from "./middleware/request-id/index.js";
import { catalog } from "./routes/catalog.js";
import { chatCompletions } from "./routes/chat-completions.js";
import { conversations } from "./routes/conversations.js";
import { ConversationFullError } from "./run-turn.js";
import type { AppEnv } from "./types.js";
import { UpstreamError } from "./upstream/upstream-error.js";
import { webhookAdmin } from "./webhooks/admin.js";
import { webhookIngress } from "./webhooks/ingress.js";

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(requestContext);
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.use("/v1/*", limitBody);
  // Webhook senders prove themselves with signatures, not with our API keys.
  app.route("/v1", webhookIngress);
  app.use("*", requireApiKey);
  app.route("/v1", webhookAdmin);
  app.route("/v1", chatCompletions);
  app.route("/v1", conversations);
  app.route("/v1", catalog);

  app.notFound((c) => errorResponse(new ApiError(404, `Unknown route ${c.req.method} ${c.req.path}.`, { code: "unknown_route" })));
  app.onError((error, c) => {
    const mapped = toApiError(error);
    const log = c.get("log");
    // Upstream messages are passed on to the client; a gateway that echoes a key must not leak it.
    if (mapped instanceof ApiError && log) mapped.body.error.message = log.redact(mapped.body.error.message);
    const response = errorResponse(mapped);
    if (response.status >= 500) {
      log?.error("request_failed", { tenant: c.get("tenant"), status: response.status, message: error.message, unexpected: !(mapped instanceof ApiError) });
    }
    const requestId = c.get("requestId");
    if (requestId) response.headers.set("X-Request-Id", requestId);
    const conversationId = c.res.headers.get("X-Conversation-Id");
    if (conversationId) response.headers.set("X-Conversation-Id", conversationId);
    return response;
  });
  return app;
}

export function toApiError(error: unknown): unknown {
  if (error instanceof UpstreamError) {
    return new ApiError(error.status as ConstructorParameters<typeof ApiError>[0], error.message, { type: error.type, param: error.param, code: error.code });
  }
  if (error instanceof ConfigError) {
    // The operator's mistake, said plainly (the variable, not its value): not a 500 with a stack.
    return new ApiError(503, `The orchestrator is misconfigured: ${error.message}`, { type: "server_error", code: "invalid_configuration" });
  }
  if (error instanceof ConversationFullError) {
    return new ApiError(413, error.message, { code: "conversation_too_large" });
  }
  return error;
}
