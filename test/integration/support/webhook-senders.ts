// Webhook senders as the test hooks' real senders sign: Standard Webhooks (the `orders` hook) with
// the standardwebhooks library, GitHub (the `github-issues` hook) with @octokit/webhooks-methods.

import { sign as signGitHub } from "@octokit/webhooks-methods";
import { Webhook } from "standardwebhooks";
import { HOOK_SECRETS } from "./harness.js";

let sequence = 0;

export interface StandardOptions {
  id?: string;
  at?: Date;
  secret?: string;
  headers?: Record<string, string>;
}

/** POSTs `body` to the `orders` hook, signed with Standard Webhooks (a fresh message id unless given). */
export function sendStandardWebhook(base: URL, body: string, options: StandardOptions = {}): Promise<Response> {
  const id = options.id ?? `msg_${++sequence}_${Date.now()}`;
  const at = options.at ?? new Date();
  return fetch(new URL("/v1/webhooks/orders", base), {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": new Webhook(options.secret ?? HOOK_SECRETS.orders).sign(id, at, body),
      ...options.headers,
    },
    body,
  });
}

/** POSTs `body` to the `github-issues` hook as GitHub sends an `issues` event (a fresh delivery id unless given). */
export async function sendGitHubWebhook(base: URL, body: string, options: { delivery?: string; signature?: string } = {}): Promise<Response> {
  return fetch(new URL("/v1/webhooks/github-issues", base), {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "X-GitHub-Event": "issues",
      "X-GitHub-Delivery": options.delivery ?? `delivery-${++sequence}-${Date.now()}`,
      "X-Hub-Signature-256": options.signature ?? (await signGitHub(HOOK_SECRETS.github, body)),
    },
    body,
  });
}
