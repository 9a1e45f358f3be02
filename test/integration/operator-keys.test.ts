// Operator controls, first slice: client keys as data (made, listed, limited and revoked through
// /v1/admin/keys with SWITCHBOARD_ADMIN_KEY), and limits that hold exactly under concurrency because
// one Durable Object per key counts them: requests per minute and turns in flight.

import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { eventually } from "./support/eventually.js";
import { KEYS, useSwitchboard } from "./support/harness.js";
import type { JsonObject } from "./support/mock-upstream.js";
import { completion, reply, toChunks, toolCall } from "./support/mock-upstream.js";

const ADMIN_KEY = "sk-admin-operator-0123456789";
/** USD per million tokens: the mock model's calls (10 prompt tokens, 5 completion tokens by default) cost $0.00002 each. */
const PRICES = { "gpt-5-mini": { input: 1, cached_input: 0.1, output: 2 } };
/** Tenant B's static key and the webhooks tenant's hooks share their tenant's limits. */
const TENANT_LIMITS = { "tenant-b": { requests_per_minute: 3 }, webhooks: { tokens_per_day: 1_000_000 } };
const switchboard = useSwitchboard({
  vars: { SWITCHBOARD_ADMIN_KEY: ADMIN_KEY, DMXAPI_MAX_RETRIES: "0", MODEL_PRICES: JSON.stringify(PRICES), TENANT_LIMITS: JSON.stringify(TENANT_LIMITS) },
});

interface KeyJson {
  id: string;
  key?: string;
  name: string;
  tenant: string;
  prefix: string;
  limits: JsonObject;
  revoked_at: number | null;
}

function admin(path: string, init: RequestInit = {}, key = ADMIN_KEY): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${key}`);
  if (init.body) headers.set("Content-Type", "application/json");
  return switchboard.request(path, { ...init, headers });
}

async function createKey(name: string, limits: JsonObject = {}, tenant = "team-a"): Promise<KeyJson> {
  const response = await admin("/v1/admin/keys", { method: "POST", body: JSON.stringify({ name, tenant, limits }) });
  expect(response.status).toBe(201);
  return (await response.json()) as KeyJson;
}

const asKey = (key: string) => ({ Authorization: `Bearer ${key}` });

describe("keys as data", () => {
  it("creates a key whose secret is shown once, lists it without secrets, and the key works on every door's auth", async () => {
    const made = await createKey("ci bot");
    expect(made.key).toMatch(/^sk-sb-[A-Za-z0-9]{40}$/);
    expect(made.prefix).toBe(made.key!.slice(0, 12));

    const listed = (await (await admin("/v1/admin/keys")).json()) as { data: KeyJson[] };
    const entry = listed.data.find((key) => key.id === made.id);
    expect(entry).toMatchObject({ name: "ci bot", tenant: "team-a", prefix: made.prefix });
    expect(JSON.stringify(listed)).not.toContain(made.key);

    const models = await switchboard.request("/v1/models", { headers: asKey(made.key!) });
    expect(models.status).toBe(200);
    // The key's tenant is its own: it sees none of another tenant's conversations.
    const conversations = (await (await switchboard.request("/v1/conversations", { headers: asKey(made.key!) })).json()) as { data: unknown[] };
    expect(conversations.data).toEqual([]);
  });

  it("refuses a revoked key on its next request: 401", async () => {
    const made = await createKey("leaked");
    expect((await switchboard.request("/v1/models", { headers: asKey(made.key!) })).status).toBe(200);

    const revoked = await admin(`/v1/admin/keys/${made.id}`, { method: "DELETE" });
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toMatchObject({ id: made.id, revoked: true });

    const after = await switchboard.request("/v1/models", { headers: asKey(made.key!) });
    expect(after.status).toBe(401);
    expect(await after.json()).toMatchObject({ error: { code: "invalid_api_key" } });
  });

  it("revoked while its turn runs: the tool step under way finishes, and no new model call starts", async () => {
    const made = await createKey("mid-turn");
    const release = switchboard.upstream.holdOpenMeteo();
    switchboard.upstream.enqueue(reply.toolCalls(toolCall("get_current_weather", { location: "Paris" })));
    const answer = chat(made.key!, "Weather in Paris?");
    await eventually(async () => (switchboard.upstream.openMeteoCalls.length > 0 ? true : null));

    expect((await admin(`/v1/admin/keys/${made.id}`, { method: "DELETE" })).status).toBe(200);
    release();

    const refused = await answer;
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: { code: "invalid_api_key" } });
    expect(switchboard.upstream.chatCalls).toHaveLength(1);
  });

  it("answers 404 on /v1/admin to any key but the operator's, as for a route that does not exist", async () => {
    for (const key of [KEYS.tenantA, "sk-sb-guess", ""]) {
      const response = await admin("/v1/admin/keys", {}, key);
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ error: { code: "unknown_route" } });
    }
    // The operator's key is not a client key.
    expect((await switchboard.request("/v1/models", { headers: asKey(ADMIN_KEY) })).status).toBe(401);
  });

  it("refuses malformed limits, naming them, and changes limits of an existing key", async () => {
    const bad = await admin("/v1/admin/keys", { method: "POST", body: JSON.stringify({ name: "x", tenant: "t", limits: { requests_per_minute: 0 } }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { param: "limits" } });
    const made = await createKey("tunable", { requests_per_minute: 5 });
    const changed = await admin(`/v1/admin/keys/${made.id}`, {
      method: "POST",
      body: JSON.stringify({ limits: { requests_per_minute: null, concurrent_turns: 3 } }),
    });
    expect(await changed.json()).toMatchObject({ limits: { concurrent_turns: 3 } });
    expect(((await (await admin(`/v1/admin/keys/${made.id}`)).json()) as KeyJson).limits).toEqual({ concurrent_turns: 3 });
  });
});

describe("limits that hold under concurrency", () => {
  it("10 requests a minute, 100 at once: exactly 10 answered, 90 refused 429 rate_limit_exceeded with Retry-After and x-ratelimit headers", async () => {
    const made = await createKey("burst", { requests_per_minute: 10 });

    const answers = await Promise.all(Array.from({ length: 100 }, () => switchboard.request("/v1/models", { headers: asKey(made.key!) })));

    const ok = answers.filter((answer) => answer.status === 200);
    const refused = answers.filter((answer) => answer.status === 429);
    expect(ok).toHaveLength(10);
    expect(refused).toHaveLength(90);
    const sample = refused[0]!;
    expect(Number(sample.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(sample.headers.get("x-ratelimit-limit-requests")).toBe("10");
    expect(sample.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(sample.headers.get("x-ratelimit-reset-requests")).toMatch(/^\d+(ms|s)$|^\d+m\d+s$/);
    expect(await sample.json()).toMatchObject({ error: { code: "rate_limit_exceeded", type: "requests" } });
    expect(ok[0]!.headers.get("x-ratelimit-limit-requests")).toBe("10");
  });

  it("2 turns at once: of 10 concurrent streams, 2 run and 8 are refused 429; a slot is free again when its stream ends", async () => {
    const made = await createKey("streams", { concurrent_turns: 2 });
    let open: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      open = resolve;
    });
    const slow = async () => {
      await held;
      return reply.sse(toChunks(completion({ content: "done" })))({}, new Request("http://x"));
    };
    switchboard.upstream.enqueue(slow, slow);
    const body = JSON.stringify({ model: "gpt-5-mini", stream: true, messages: [{ role: "user", content: "hi" }] });
    const started = Array.from({ length: 10 }, () =>
      switchboard.request("/v1/chat/completions", { method: "POST", headers: { ...asKey(made.key!), "Content-Type": "application/json" }, body }),
    );
    // The refusals come back at once; the two that run wait for their model.
    const statuses: number[] = [];
    for (const answer of started) void answer.then((response) => statuses.push(response.status));
    await eventually(async () => (statuses.length === 8 ? true : null));
    expect(statuses).toEqual(Array(8).fill(429));
    open();
    const answers = await Promise.all(started);
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(2);
    for (const answer of answers) await answer.text();

    // Both streams ended: a third turn may run.
    switchboard.upstream.enqueue(reply.text("again"));
    const again = await eventually(async () => {
      const answer = await switchboard.request("/v1/chat/completions", {
        method: "POST",
        headers: { ...asKey(made.key!), "Content-Type": "application/json" },
        body: JSON.stringify({ model: "gpt-5-mini", messages: [{ role: "user", content: "again" }] }),
      });
      return answer.status === 200 ? answer : null;
    });
    expect(again.status).toBe(200);
  });

  it("a background response holds its slot until its run ends, not just until it answered queued", async () => {
    const made = await createKey("background", { concurrent_turns: 1 });
    let finish: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      finish = resolve;
    });
    switchboard.upstream.enqueue(async (body, request) => {
      await held;
      return reply.sse(toChunks(completion({ content: "late answer" })))(body, request);
    });
    const client = new OpenAI({ baseURL: new URL("/v1", switchboard.url).href, apiKey: made.key!, maxRetries: 0 });
    const queued = await client.responses.create({ model: "gpt-5-mini", input: "take your time", background: true });
    expect(queued.status).toBe("queued");
    await eventually(async () => (switchboard.upstream.chatCalls.length > 0 ? true : null));

    const second = await chat(made.key!, "me too");
    expect(second.status).toBe(429);
    expect(await second.json()).toMatchObject({ error: { code: "rate_limit_exceeded", type: "concurrency" } });

    finish();
    await eventually(async () => ((await client.responses.retrieve(queued.id)).status === "completed" ? true : null));
    switchboard.upstream.enqueue(reply.text("now"));
    const third = await eventually(async () => {
      const answer = await chat(made.key!, "now?");
      return answer.status === 200 ? answer : null;
    });
    expect(third.status).toBe(200);
  });

  it("the openai client waits as Retry-After says and then succeeds", async () => {
    const made = await createKey("patient", { requests_per_minute: 60 });
    for (let index = 0; index < 60; index++) await switchboard.request("/v1/models", { headers: asKey(made.key!) });
    const statuses: number[] = [];
    const client = new OpenAI({
      baseURL: new URL("/v1", switchboard.url).href,
      apiKey: made.key!,
      maxRetries: 2,
      fetch: async (url, init) => {
        const response = await fetch(url, init);
        statuses.push(response.status);
        return response;
      },
    });

    const models = await client.models.list();

    expect(models.data.length).toBeGreaterThan(0);
    // Refused, then let through once the key's next request had come back: the client retried as told.
    expect(statuses).toEqual([429, 200]);
    const impatient = new OpenAI({ baseURL: new URL("/v1", switchboard.url).href, apiKey: made.key!, maxRetries: 0 });
    const refused = await impatient.models.list().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
  });
});

interface UsagePage {
  data: Array<{
    start_time: number;
    results: Array<{ model: string | null; input_tokens: number; output_tokens: number; num_model_requests: number; spend_usd: number }>;
  }>;
  in_flight: { reservations: number; spend_usd: number };
  budgets: Array<{ limit: string; value: number; used: number; remaining: number }>;
}

async function usageOf(key: string, query = ""): Promise<UsagePage> {
  const start = Math.floor(Date.now() / 1000) - 3600;
  const response = await switchboard.request(`/v1/usage?start_time=${start}&bucket_width=1h&group_by=model${query}`, { headers: asKey(key) });
  expect(response.status).toBe(200);
  return (await response.json()) as UsagePage;
}

const totals = (page: UsagePage) =>
  page.data
    .flatMap((bucket) => bucket.results)
    .reduce(
      (sum, row) => ({
        requests: sum.requests + row.num_model_requests,
        tokens: sum.tokens + row.input_tokens + row.output_tokens,
        usd: sum.usd + row.spend_usd,
      }),
      {
        requests: 0,
        tokens: 0,
        usd: 0,
      },
    );

function chat(key: string, content: string, extra: JsonObject = {}): Promise<Response> {
  return switchboard.request("/v1/chat/completions", {
    method: "POST",
    headers: { ...asKey(key), "Content-Type": "application/json" },
    body: JSON.stringify({ model: "gpt-5-mini", messages: [{ role: "user", content }], ...extra }),
  });
}

describe("budgets reserved before each model call", () => {
  it("many concurrent tool turns never spend more than the key's budget; refusals are insufficient_quota", async () => {
    const budget = 0.01;
    const made = await createKey("budgeted", { spend_usd_per_day: budget });

    const answers = await Promise.all(Array.from({ length: 12 }, (_, index) => chat(made.key!, `What's the weather in Paris? (${index})`)));

    const refused = answers.filter((answer) => answer.status === 429);
    expect(answers.filter((answer) => answer.status === 200).length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(await refused[0]!.json()).toMatchObject({ error: { code: "insufficient_quota", type: "insufficient_quota" } });
    for (const answer of answers) if (answer.bodyUsed === false) await answer.text();
    const report = await usageOf(made.key!);
    const spent = totals(report);
    expect(report.budgets).toEqual([expect.objectContaining({ limit: "spend_usd_per_day", value: budget, used: expect.closeTo(spent.usd, 12) })]);
    expect(spent.usd).toBeGreaterThan(0);
    expect(spent.usd).toBeLessThanOrEqual(budget);
    // Every call went upstream with its output capped to what the budget had left.
    for (const call of switchboard.upstream.chatCalls)
      expect(Number(call.body.max_completion_tokens)).toBeLessThanOrEqual((budget * 1_000_000) / PRICES["gpt-5-mini"].output);
  });

  it("a tokens-per-day limit ends in 429 rate_limit_exceeded (tokens) with Retry-After, never past the limit", async () => {
    const limit = 400;
    const made = await createKey("tokens", { tokens_per_day: limit });
    let refusal: Response | null = null;
    for (let index = 0; index < 30 && !refusal; index++) {
      const answer = await chat(made.key!, "hi", { server_tools: [] });
      if (answer.status === 429) refusal = answer;
      else {
        expect(answer.status).toBe(200);
        expect(Number(answer.headers.get("x-ratelimit-limit-tokens"))).toBe(limit);
        await answer.text();
      }
    }
    expect(refusal).not.toBeNull();
    expect(Number(refusal!.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await refusal!.json()).toMatchObject({ error: { code: "rate_limit_exceeded", type: "tokens" } });
    expect(totals(await usageOf(made.key!)).tokens).toBeLessThanOrEqual(limit);
  });

  it("refuses a model without a price under a spend limit, naming it", async () => {
    const made = await createKey("unpriced", { spend_usd_per_month: 1 });
    const answer = await chat(made.key!, "hi", { model: "some-unpriced-model" });
    expect(answer.status).toBe(400);
    expect(await answer.json()).toMatchObject({ error: { param: "model", code: "model_not_priced" } });
    expect(switchboard.upstream.chatCalls).toEqual([]);
  });

  it("GET /v1/usage matches what the upstream reported, per model and per bucket; the operator reads any key's", async () => {
    const made = await createKey("metered");
    switchboard.upstream.enqueue(
      reply.json(completion({ content: "one" }, { usage: { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150 } })),
      reply.json(
        completion(
          { content: "two" },
          { usage: { prompt_tokens: 80, completion_tokens: 20, total_tokens: 100, prompt_tokens_details: { cached_tokens: 40 } } },
        ),
      ),
    );
    expect((await chat(made.key!, "first", { server_tools: [] })).status).toBe(200);
    expect((await chat(made.key!, "second", { server_tools: [] })).status).toBe(200);

    const page = await usageOf(made.key!);
    const rows = page.data.flatMap((bucket) => bucket.results);
    expect(rows).toHaveLength(1);
    // Grouped under the model that answered, as the upstream named it (a dated snapshot of the one asked for, priced as it).
    expect(rows[0]).toMatchObject({ model: "gpt-5-mini-2025-08-07", input_tokens: 200, output_tokens: 50, num_model_requests: 2 });
    // 80 uncached + 40 cached at a tenth + 50 output, per million.
    expect(rows[0]!.spend_usd).toBeCloseTo((160 * 1 + 40 * 0.1 + 50 * 2) / 1_000_000, 12);
    expect(page.in_flight.reservations).toBe(0);
    expect(page.budgets).toEqual([]);

    const start = Math.floor(Date.now() / 1000) - 3600;
    const operator = await admin(`/v1/admin/usage?key_id=${made.id}&start_time=${start}&bucket_width=1h`);
    expect(operator.status).toBe(200);
    expect(totals((await operator.json()) as UsagePage).requests).toBe(2);
    const staticKey = await switchboard.request(`/v1/usage?start_time=${start}`);
    expect(staticKey.status).toBe(400);
  });
});

describe("tenant limits (TENANT_LIMITS)", () => {
  it("hold for a tenant's static keys too: its fourth request in a minute is refused, naming the tenant", async () => {
    const answers: Response[] = [];
    for (let index = 0; index < 4; index++) answers.push(await switchboard.request("/v1/models", { headers: asKey(KEYS.tenantB) }));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 429]);
    expect(answers[0]!.headers.get("x-ratelimit-limit-requests")).toBe("3");
    const body = (await answers[3]!.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("rate_limit_exceeded");
    expect(body.error.message).toContain("tenant tenant-b");
  });

  it("count a webhook's turn against its hook's tenant: its usage is the tenant's", async () => {
    switchboard.upstream.enqueue(reply.text("No delay expected."));
    const { sendStandardWebhook } = await import("./support/webhook-senders.js");
    const sent = await sendStandardWebhook(
      switchboard.url,
      JSON.stringify({ type: "order.created", data: { id: "ord_metered", total: 5, currency: "EUR", city: "Paris, France" } }),
    );
    expect(sent.status).toBe(202);
    await eventually(async () => switchboard.upstream.callbacks[0] ?? null);

    const usage = await usageOf(KEYS.webhooks);
    expect(totals(usage).requests).toBeGreaterThanOrEqual(1);
    expect(usage.budgets).toEqual([expect.objectContaining({ limit: "tokens_per_day", value: 1_000_000 })]);
  });
});
