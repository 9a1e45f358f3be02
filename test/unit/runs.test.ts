// The run engine seen from what it promises: a run belongs to its conversation's home, not to the
// request or queue consumer that started it, so asking for the same run again (a redelivered webhook
// job) continues or replays it instead of running the turn a second time.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it, vi } from "vitest";
import type { Env } from "../../src/env.js";
import { claimKey } from "../../src/ledger/claims.js";
import { handleWebhookBatch } from "../../src/webhooks/consumer.js";
import type { WebhookJob } from "../../src/webhooks/deliveries.js";
import { readDelivery, webhookRunId } from "../../src/webhooks/deliveries.js";
import { appRequests, executionContext, useAppHooks } from "./support/app.js";

const ENV = env as unknown as Env;
const { settle } = appRequests();
useAppHooks(settle);

/** Calls the offline model received (every fetch in a unit test goes to it). */
function modelCalls(): number {
  return vi.mocked(fetch).mock.calls.filter(([input]) => (input instanceof Request ? input.url : String(input)).endsWith("/chat/completions")).length;
}

it("finds the same run when a webhook job is redelivered after its consumer died, and asks the model nothing again", async () => {
  const job: WebhookJob = {
    kind: "turn",
    hook: "github-issues",
    delivery_id: "delivery-run-1",
    conversation_id: "webhooks-run-1",
    payload: {
      action: "opened",
      issue: { number: 7, title: "Crash on start", body: "It crashes." },
      sender: { login: "ada" },
      repository: { full_name: "o/r" },
    },
  };
  const acked: string[] = [];
  const deliver = () =>
    handleWebhookBatch(
      {
        queue: "switchboard-webhooks",
        messages: [{ body: job, attempts: 1, ack: () => acked.push("ack"), retry: () => acked.push("retry") }],
      } as unknown as MessageBatch<WebhookJob>,
      ENV,
      executionContext().ctx,
    );
  await deliver();
  const asked = modelCalls();
  expect(asked).toBeGreaterThan(0);
  const runId = await webhookRunId("github-issues", "delivery-run-1");
  expect((await readDelivery(ENV.CONVERSATIONS, "github-issues", "delivery-run-1"))?.run_id).toBe(runId);

  // The consumer died after the run ended and before it settled its claim; the claim's lease ran out.
  await runInDurableObject(ENV.LEDGER.get(ENV.LEDGER.idFromName(claimKey("webhook-turn", runId))), (_instance, state) => {
    state.storage.sql.exec("DELETE FROM claims");
  });
  await deliver();

  expect(acked).toEqual(["ack", "ack"]);
  expect(modelCalls()).toBe(asked);
});
