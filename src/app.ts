// The orchestrator's HTTP surface. Routes are small modules; errors all end in one place.

import { Hono } from "hono";
import { ApiError } from "./errors.js";
import { errorBody, isUnexpected } from "./http/error-body.js";
import { ClientDisconnectedError } from "./http/request-body.js";
import { requireApiKey } from "./middleware/auth/index.js";
import { limitBody } from "./middleware/body-limit/index.js";
import { requestContext } from "./middleware/request-id/index.js";
import { provideServices } from "./middleware/services/index.js";
import { adminKeys } from "./routes/admin-keys.js";
import { approvals } from "./routes/approvals.js";
import { catalog } from "./routes/catalog.js";
import { chatCompletions } from "./routes/chat-completions.js";
import { conversations } from "./routes/conversations.js";
import { mcp } from "./routes/mcp.js";
import { responses } from "./routes/responses.js";
import type { AppEnv } from "./types.js";
import { webhookAdmin } from "./webhooks/admin.js";
import { webhookIngress } from "./webhooks/ingress.js";

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(requestContext);
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.use("/v1/*", limitBody);
  app.use("*", provideServices);
  // Webhook senders prove themselves with signatures, not with our API keys.
  app.route("/v1", webhookIngress);
  // Checks the Origin before the key, and lets browser clients preflight without one.
  app.route("/", mcp);
  // The operator's own key opens /v1/admin/*, and nothing else does.
  app.route("/v1", adminKeys);
  app.use("*", requireApiKey);
  app.route("/v1", webhookAdmin);
  app.route("/v1", chatCompletions);
  app.route("/v1", responses);
  app.route("/v1", conversations);
  app.route("/v1", approvals);
  app.route("/v1", catalog);

  app.notFound((c) => new ApiError(404, `Unknown route ${c.req.method} ${c.req.path}.`, { code: "unknown_route" }).getResponse());
  app.onError((error, c) => {
    const log = c.get("log");
    if (error instanceof ClientDisconnectedError) {
      // Nobody is left to read an answer, and nothing failed on our side: not an error-level event.
      log?.info("client_disconnected", { tenant: c.get("tenant"), method: c.req.method, path: c.req.path });
      return new Response(null, { status: 499 });
    }
    // Upstream messages are passed on to the client; a gateway that echoes a key must not leak it.
    const mapped = errorBody(error, (text) => log?.redact(text) ?? text);
    const response = mapped.getResponse();
    if (response.status >= 500) {
      log?.error("request_failed", { tenant: c.get("tenant"), status: response.status, message: error.message, unexpected: isUnexpected(error) });
    }
    const requestId = c.get("requestId");
    if (requestId) response.headers.set("X-Request-Id", requestId);
    const conversationId = c.res.headers.get("X-Conversation-Id");
    if (conversationId) response.headers.set("X-Conversation-Id", conversationId);
    return response;
  });
  return app;
}
