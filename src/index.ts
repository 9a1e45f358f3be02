// The orchestrator Worker's entry: HTTP for clients and webhook senders, and the queue consumer
// that runs webhook turns.

import { createApp } from "./app.js";
import type { RescueJob } from "./conversations/rescue.js";
import type { Env } from "./env.js";
import { handleWebhookBatch } from "./webhooks/consumer.js";
import type { WebhookJob } from "./webhooks/deliveries.js";

export { ConversationDirectory } from "./conversations/directory.js";
export { ConversationHome } from "./conversations/home.js";
export { KeyHome } from "./keys/key-home.js";
export { KeyRegistry } from "./keys/key-registry.js";
export { Ledger } from "./ledger/ledger.js";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: (batch, env, ctx) => handleWebhookBatch(batch, env, ctx),
} satisfies ExportedHandler<Env, WebhookJob | RescueJob>;
