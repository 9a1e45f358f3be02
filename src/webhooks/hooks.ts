// The webhook hooks this orchestrator accepts. Adding one is adding an entry here, setting its
// signing secret (`wrangler secret put NAME`) and deploying; see the README.

import { defineHooks } from "./types.js";

export const hooks = defineHooks([
  {
    // GitHub "issues" events: triage each new or edited issue, one conversation per issue.
    name: "github-issues",
    verification: { scheme: "github", secret: "GITHUB_WEBHOOK_SECRET" },
    system: "You triage GitHub issues for {{repository.full_name}}. Answer with a short summary and a suggested label.",
    message: "GitHub issue #{{issue.number}} was {{action}} by {{sender.login}}: {{issue.title}}\n\n{{issue.body}}",
    tools: ["notes", "get_current_time"],
    conversation: { key: "{{repository.full_name}}#{{issue.number}}" },
    tenant: "webhooks",
  },
  {
    // Any Standard Webhooks sender (Svix, Resend, ...): one conversation per event, answer posted back.
    name: "orders",
    verification: { scheme: "standard-webhooks", secret: "ORDERS_WEBHOOK_SECRET" },
    message:
      "Order event {{type}}: order {{data.id}} for {{data.total}} {{data.currency}}, ship to {{data.city}}. Check the weather at the destination and say if delivery could be delayed.",
    tools: ["get_current_weather", "calculate"],
    conversation: "per-event",
    callback: { url_env: "ORDERS_CALLBACK_URL", secret_env: "ORDERS_CALLBACK_SECRET" },
    tenant: "webhooks",
  },
]);
