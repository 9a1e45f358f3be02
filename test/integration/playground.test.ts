// The playground (GET /) in a real browser: Debian's Chromium driven by playwright-core, against
// every Worker running together with the offline model, as `npm start` runs them without a key (and,
// where a turn must still be running when the page reloads, or the model must ask for a tool that
// waits for a person's approval, against the mock DMXAPI, which can hold or script its answer).
// Chromium must be installed (`apt-get install -y chromium`; .ci/run does it): without it this
// file fails, it never skips.

import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, BrowserContext, Dialog, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEYS, startSwitchboard, useSwitchboard } from "./support/harness.js";
import type { ChatHandler, JsonObject } from "./support/mock-upstream.js";
import { completion, reply, sseResponse, toChunks, toolCall } from "./support/mock-upstream.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Set to a file path to save a screenshot of the finished turn (how the README's picture is made). */
const SCREENSHOT = process.env.PLAYGROUND_SCREENSHOT;

const switchboard = useSwitchboard({ model: "offline" });
let browser: Browser | undefined;
let context: BrowserContext | undefined;
let profile: string | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The browser test needs Chromium at ${CHROMIUM} and it is not there: install it with \`apt-get install -y chromium\` (.ci/run does), or set CHROMIUM_PATH.`,
    );
  }
  profile = await mkdtemp(path.join(tmpdir(), "switchboard-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 860 },
  });
  browser = context.browser() ?? undefined;
}, 60_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

async function openPlayground(url: URL = switchboard.url, key: string = KEYS.tenantA): Promise<Page> {
  const page = await context!.newPage();
  await page.goto(new URL("/", url).href);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Use key" }).click();
  await expect.poll(() => page.locator("#model option").count()).toBeGreaterThan(0);
  return page;
}

/** A streamed answer whose first piece comes at once and the rest only once `gate` settles: a turn that is still running. */
function heldAnswer(text: string, gate: Promise<unknown>): ChatHandler {
  return () => {
    const [role = "", first = "", ...rest] = toChunks(completion({ content: text }));
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode(role + first));
        await gate;
        for (const piece of rest) controller.enqueue(encoder.encode(piece));
        controller.close();
      },
    });
    return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
  };
}

describe("the playground page", () => {
  it("is served at / without a key, while the API still needs one", async () => {
    const page = await fetch(new URL("/", switchboard.url));
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain("Switchboard");
    expect((await fetch(new URL("/app.js", switchboard.url))).status).toBe(200);
    expect((await fetch(new URL("/v1/models", switchboard.url))).status).toBe(401);
  });

  it("asks for a key first, and keeps it in the browser only", async () => {
    const page = await context!.newPage();
    await page.goto(new URL("/", switchboard.url).href);
    await page.evaluate(() => localStorage.clear());
    await page.reload();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("Paste an API key");
    await page.getByLabel("API key").fill(KEYS.tenantA);
    await page.getByRole("button", { name: "Use key" }).click();
    await expect.poll(() => page.evaluate(() => localStorage.getItem("switchboard.key"))).toBe(KEYS.tenantA);
    // The discovered tools, with their schemas.
    await expect.poll(() => page.locator("#tools details").count()).toBeGreaterThanOrEqual(4);
    expect(await page.locator("#tools").textContent()).toContain("get_current_time");
    await page.close();
  });

  it("shows the get_current_time step with its duration and the answer, then reopens the conversation with its waterfall", async () => {
    const page = await openPlayground();
    await page.getByLabel("Message").fill("What time is it in Tokyo?");
    await page.getByLabel("Message").press("Enter");

    const step = page.getByRole("article", { name: "Tool step get_current_time" });
    await expect.poll(() => step.getAttribute("class"), { timeout: 15_000 }).toContain("ok");
    expect(await step.locator(".meta").textContent()).toMatch(/^ok · \d+ ms$/);
    expect(await step.locator("pre").first().textContent()).toContain("Asia/Tokyo");
    expect(await step.locator(".result").textContent()).toContain("Asia/Tokyo");
    const answer = page.getByRole("article", { name: "Assistant" }).last();
    await expect.poll(() => answer.textContent()).toContain("[offline model]");

    // The turn's trace, as a waterfall, once the turn ended.
    const waterfall = page.getByRole("list", { name: "Waterfall" });
    await expect.poll(() => waterfall.locator("li").count()).toBeGreaterThanOrEqual(4);
    const labels = await waterfall.locator(".label").allTextContents();
    expect(labels).toEqual(expect.arrayContaining(["invoke_agent switchboard", "execute_tool get_current_time"]));
    expect(labels.filter((label) => label.startsWith("chat "))).toHaveLength(2);
    if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT });

    // A new chat empties the page; the list reopens the conversation, steps and trace included.
    await page.getByRole("button", { name: "New chat" }).click();
    expect(await page.locator("#transcript article").count()).toBe(0);
    await page.getByRole("button", { name: "Open What time is it in Tokyo?" }).first().click();
    await expect.poll(() => page.getByRole("article", { name: "Tool step get_current_time" }).getAttribute("class")).toContain("ok");
    expect(await page.getByRole("article", { name: "Tool step get_current_time" }).locator(".meta").textContent()).toMatch(/^ok · \d+ ms$/);
    await expect.poll(() => page.getByRole("article", { name: "Assistant" }).last().textContent()).toContain("[offline model]");
    await expect.poll(() => waterfall.locator(".label").allTextContents()).toContain("execute_tool get_current_time");
    await page.close();
  });

  it("continues a conversation, and deletes one from the list", async () => {
    const page = await openPlayground();
    await page.getByLabel("Message").fill("remember my locker is 42");
    await page.getByRole("button", { name: "Send" }).click();
    await expect.poll(() => page.getByRole("article", { name: "Assistant" }).last().textContent(), { timeout: 15_000 }).toContain("[offline model]");
    await page.getByLabel("Message").fill("what is my locker number?");
    await page.getByRole("button", { name: "Send" }).click();
    await expect.poll(() => page.getByRole("article", { name: "Assistant" }).count(), { timeout: 15_000 }).toBe(2);
    await expect.poll(() => page.getByRole("article", { name: "Assistant" }).last().textContent()).toContain("42");
    await expect.poll(() => page.locator("#turn-select option").count()).toBe(2);

    const open = page.getByRole("button", { name: "Open remember my locker is 42" });
    await expect.poll(() => open.count()).toBe(1);
    page.once("dialog", (dialog) => dialog.accept());
    await page.getByRole("button", { name: "Delete remember my locker is 42" }).click();
    await expect.poll(() => open.count()).toBe(0);
    await expect.poll(() => page.getByRole("status").textContent()).toContain("deleted");
    await page.close();
  });

  it("re-attaches to a running turn after a reload: the user's message, the tool step so far, then the answer as it arrives", async () => {
    // The mock DMXAPI holds the answer after its first piece, so the turn is still running at the reload;
    // it may hold it for longer than the test default's idle limit.
    const held = await startSwitchboard({ vars: { DMXAPI_TIMEOUT_MS: "60000" } });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const question = "What time is it in Tokyo, take your time?";
    const answer = "It is a quarter past nine in the evening in Tokyo.";
    try {
      held.upstream.enqueue(reply.toolCalls(toolCall("get_current_time", { timezone: "Asia/Tokyo" }, "call_reload_tokyo")), heldAnswer(answer, gate));
      const page = await openPlayground(held.url);
      await page.getByLabel("Message").fill(question);
      await page.getByLabel("Message").press("Enter");
      const step = page.getByRole("article", { name: "Tool step get_current_time" });
      const assistant = page.getByRole("article", { name: "Assistant" });
      await expect.poll(() => step.getAttribute("class"), { timeout: 15_000 }).toContain("ok");
      await expect.poll(() => assistant.last().textContent(), { timeout: 15_000 }).toContain("It is");
      const running = await page.evaluate(() => JSON.parse(localStorage.getItem("switchboard.running") ?? "null"));
      expect(running).toMatchObject({
        responseId: expect.stringMatching(/^resp_/),
        conversationId: expect.any(String),
        text: question,
        lastSequence: expect.any(Number),
      });

      await page.reload();
      // Shown again from the run's events: the turn is not in the stored conversation until it ends.
      await expect.poll(() => page.getByRole("article", { name: "You" }).last().textContent(), { timeout: 15_000 }).toContain(question);
      await expect.poll(() => step.getAttribute("class"), { timeout: 15_000 }).toContain("ok");
      expect(await step.locator(".meta").textContent()).toMatch(/^ok · \d+ ms$/);
      expect(await step.locator(".result").textContent()).toContain("Asia/Tokyo");
      await expect.poll(() => assistant.last().textContent()).toContain("It is");
      expect(await assistant.last().textContent()).not.toContain(answer);
      expect(await page.getByRole("button", { name: "Send" }).isDisabled()).toBe(true);
      expect(await page.evaluate(() => localStorage.getItem("switchboard.running"))).not.toBeNull();

      release();
      await expect.poll(() => assistant.last().textContent(), { timeout: 15_000 }).toContain(answer);
      await expect.poll(() => page.evaluate(() => localStorage.getItem("switchboard.running"))).toBeNull();
      // Then shown as stored: the step's duration from the trace, and the turn's waterfall.
      await expect.poll(() => page.getByRole("list", { name: "Waterfall" }).locator(".label").allTextContents()).toContain("execute_tool get_current_time");
      expect(await step.locator(".meta").textContent()).toMatch(/^ok · \d+ ms$/);
      expect(await page.getByRole("article", { name: "You" }).count()).toBe(1);
      expect(await page.getByRole("button", { name: "Send" }).isDisabled()).toBe(false);
      // The run went on in the server: the reload asked the model nothing more, nor ran the tool again.
      expect(held.upstream.chatCalls).toHaveLength(2);
      await page.close();
    } finally {
      release();
      await held.dispose();
    }
  });
});

describe("the playground's approvals", () => {
  // The operator has the notes tool wait for a person; the tool Worker gets the default's time to answer.
  const approving = useSwitchboard({ vars: { APPROVAL_REQUIRED_TOOLS: "notes", TOOL_TIMEOUT_MS: "5000" } });

  /** Every note with this text the notes tool Worker keeps for tenant A, read from its own KV. */
  async function notesWithText(text: string): Promise<string[]> {
    const kv = await approving.miniflare.getKVNamespace("NOTES", "switchboard-tool-notes");
    const listed = await kv.list({ prefix: `notes/${encodeURIComponent("tenant-a")}/` });
    return listed.keys.filter((key) => (key.metadata as { preview?: string } | undefined)?.preview === text).map((key) => key.name);
  }

  /** The page after a turn whose model asked to save `texts` as notes: one approval card per call. */
  async function askToSave(...texts: string[]): Promise<Page> {
    approving.upstream.enqueue(reply.toolCalls(...texts.map((text) => toolCall("notes", { action: "save", text }))));
    const page = await openPlayground(approving.url);
    await page.getByLabel("Message").fill(`Remember: ${texts.join(", ")}`);
    await page.getByLabel("Message").press("Enter");
    await expect.poll(() => page.getByRole("article", { name: "Approval request notes" }).count(), { timeout: 15_000 }).toBe(texts.length);
    return page;
  }

  /** The mock model's default answer (it quotes the tool results), given only once `gate` settles. */
  function quotingAfter(gate: Promise<unknown>): ChatHandler {
    return async (body) => {
      await gate;
      const results = ((body.messages as JsonObject[]) ?? []).filter((message) => message.role === "tool").map((message) => String(message.content));
      return sseResponse(toChunks(completion({ content: `From the tools: ${results.join(" | ")}` })));
    };
  }

  it("shows a call waiting for approval with its tool and arguments, again after a reload; Approve runs it once and the turn goes on", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      approving.upstream.enqueue(reply.toolCalls(toolCall("notes", { action: "save", text: "buy oat milk" })), quotingAfter(gate));
      const page = await openPlayground(approving.url);
      await page.getByLabel("Message").fill("Remember to buy oat milk");
      await page.getByLabel("Message").press("Enter");
      const card = page.getByRole("article", { name: "Approval request notes" });
      await expect.poll(() => card.count(), { timeout: 15_000 }).toBe(1);
      expect(JSON.parse((await card.locator("pre").textContent()) ?? "")).toEqual({ action: "save", text: "buy oat milk" });
      await expect.poll(() => page.getByRole("status").textContent()).toContain("waits for your decision");
      expect(await notesWithText("buy oat milk")).toEqual([]);

      // The waiting turn is remembered: a reload shows its request again, under the user's message.
      await page.reload();
      await expect.poll(() => card.count(), { timeout: 15_000 }).toBe(1);
      expect(await page.getByRole("article", { name: "You" }).locator(".text").allTextContents()).toEqual(["Remember to buy oat milk"]);
      expect(await card.locator("code").textContent()).toBe("notes");

      await card.getByRole("button", { name: "Approve" }).click();
      // The decision shows at once, and cannot be made again; the tool step runs while the answer is held.
      expect(await card.getAttribute("class")).toContain("approved");
      expect(await card.getByRole("button", { name: "Approve" }).isDisabled()).toBe(true);
      expect(await card.getByRole("button", { name: "Deny" }).isDisabled()).toBe(true);
      const step = page.getByRole("article", { name: "Tool step notes" });
      await expect.poll(() => step.getAttribute("class"), { timeout: 15_000 }).toContain("ok");
      expect(await card.locator(".meta").textContent()).toBe("approved");
      expect(await notesWithText("buy oat milk")).toHaveLength(1);

      release();
      const answer = page.getByRole("article", { name: "Assistant" }).last();
      await expect.poll(() => answer.textContent(), { timeout: 15_000 }).toContain("From the tools:");
      await expect.poll(() => page.evaluate(() => localStorage.getItem("switchboard.running"))).toBeNull();
      // Shown as stored: the step with its result, no request waiting, and the tool ran once.
      await expect.poll(() => card.count()).toBe(0);
      await expect.poll(() => step.getAttribute("class")).toContain("ok");
      expect(await page.getByRole("article", { name: "You" }).count()).toBe(1);
      expect(await notesWithText("buy oat milk")).toHaveLength(1);
      await page.close();
    } finally {
      release();
    }
  });

  it("Deny, with a reason, never runs the call; the model is told and the turn goes on", async () => {
    const page = await askToSave("sell the car");
    const card = page.getByRole("article", { name: "Approval request notes" });
    await card.getByLabel("Reason to deny notes").fill("not my car");
    await card.getByRole("button", { name: "Deny" }).click();

    const answer = page.getByRole("article", { name: "Assistant" }).last();
    // The answer streams in: waited for until its end (the reason, quoted from the tool's result) has arrived.
    await expect.poll(() => answer.textContent(), { timeout: 15_000 }).toContain("not my car");
    expect(await answer.textContent()).toContain("From the tools:");
    const step = page.getByRole("article", { name: "Tool step notes" });
    await expect.poll(() => step.getAttribute("class")).toContain("failed");
    expect(await step.locator(".result").textContent()).toContain("denied");
    expect(await notesWithText("sell the car")).toEqual([]);
    expect(approving.upstream.chatCalls).toHaveLength(2);
    await page.close();
  });

  it("continues a step of several calls once each is decided, in one request", async () => {
    const page = await askToSave("call mum", "water plants");
    const cards = page.getByRole("article", { name: "Approval request notes" });
    await cards.filter({ hasText: "call mum" }).getByRole("button", { name: "Approve" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("Decide the other 1 call");
    // Nothing is sent until every call of the step is decided.
    expect(approving.upstream.chatCalls).toHaveLength(1);
    await cards.filter({ hasText: "water plants" }).getByRole("button", { name: "Deny" }).click();

    await expect.poll(() => page.getByRole("article", { name: "Assistant" }).last().textContent(), { timeout: 15_000 }).toContain("From the tools:");
    expect(await page.getByRole("article", { name: "Tool step notes" }).evaluateAll((steps) => steps.map((step) => step.className))).toEqual([
      "tool-step ok",
      "tool-step failed",
    ]);
    expect(await notesWithText("call mum")).toHaveLength(1);
    expect(await notesWithText("water plants")).toEqual([]);
    await page.close();
  });

  it("shows arguments as text: markup in them is never made into elements", async () => {
    const markup = "<img src=x onerror=alert(1)>";
    // Made into an element, the markup would run its handler: any alert would show here.
    const dialogs: string[] = [];
    const onDialog = (dialog: Dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    };
    context!.on("dialog", onDialog);
    try {
      const page = await askToSave(markup);
      const card = page.getByRole("article", { name: "Approval request notes" });
      expect(await card.getByText(markup).isVisible()).toBe(true);
      expect(JSON.parse((await card.locator("pre").textContent()) ?? "")).toEqual({ action: "save", text: markup });
      expect(await page.locator("img").count()).toBe(0);
      expect(dialogs).toEqual([]);
      await page.close();
    } finally {
      context!.off("dialog", onDialog);
    }
  });
});

describe("the playground's usage panel", () => {
  const ADMIN_KEY = "sk-admin-operator-0123456789";
  // USD per million tokens: the mock model's calls (10 prompt, 5 completion tokens) cost $0.00002 each.
  const PRICES = { "gpt-5-mini": { input: 1, output: 2 } };
  const metered = useSwitchboard({ vars: { SWITCHBOARD_ADMIN_KEY: ADMIN_KEY, DMXAPI_MAX_RETRIES: "0", MODEL_PRICES: JSON.stringify(PRICES) } });

  /** A managed key's secret, made as the operator makes one. */
  async function managedKey(name: string, limits: JsonObject): Promise<string> {
    const response = await metered.request("/v1/admin/keys", {
      method: "POST",
      headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name, tenant: "team-usage", limits }),
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { key: string }).key;
  }

  /** The panel's figures, name to value, as shown. */
  const figuresOf = (page: Page) =>
    page
      .getByRole("region", { name: /^Usage/ })
      .evaluate((panel) => Object.fromEntries([...panel.querySelectorAll("dt")].map((name) => [name.textContent, name.nextElementSibling?.textContent])));

  async function ask(page: Page, text: string): Promise<void> {
    await page.getByLabel("Message").fill(text);
    await page.getByLabel("Message").press("Enter");
  }

  it("shows a managed key's requests, tokens and spend for the UTC day, and the tokens left, refreshed when a turn ends", async () => {
    const key = await managedKey("playground", { tokens_per_day: 100_000, spend_usd_per_day: 1 });
    const page = await openPlayground(metered.url, key);
    // Nothing used yet: the panel shows the key's day so far and what its answers said is left.
    await expect
      .poll(() => figuresOf(page))
      .toMatchObject({ "Model requests": "0", Spend: "$0.00", "Tokens left today": expect.stringMatching(/^100,000 of 100,000 · resets in /) });

    await ask(page, "hello there");
    await expect.poll(() => page.getByRole("article", { name: "Assistant" }).last().textContent(), { timeout: 15_000 }).toContain("Hello from the mock model.");
    await expect.poll(() => figuresOf(page)).toMatchObject({ "Model requests": "1" });
    expect(metered.upstream.chatCalls).toHaveLength(1);
    expect(await figuresOf(page)).toEqual({
      "Model requests": "1",
      "Input tokens": "10",
      "Output tokens": "5",
      // 10 × $1 + 5 × $2 per million tokens, priced as gpt-5-mini though the mock answers as its dated snapshot.
      Spend: "$0.00002",
      "Calls in flight": "0",
      // The budget as /v1/usage reports it: $1 less $0.00002, to the cent.
      "Spend left today": "$1.00 of $1.00",
      "Tokens left today": expect.stringMatching(/^99,985 of 100,000 · resets in \d+ (h \d+ min|min|s)$/),
    });
    expect(
      await page
        .getByRole("region", { name: /^Usage/ })
        .locator(".usage-note")
        .textContent(),
    ).toBe("");
    await page.close();
  });

  it("says a static key keeps no usage, without calling it a failure", async () => {
    const page = await openPlayground(metered.url, KEYS.tenantA);
    const panel = page.getByRole("region", { name: /^Usage/ });
    await expect
      .poll(() => panel.locator(".usage-note").textContent())
      .toBe("Usage is kept only for keys made through /v1/admin/keys; this key is a static one.");
    expect(await panel.locator("dt").count()).toBe(0);
    expect(await page.getByRole("status").getAttribute("class")).not.toContain("error");
    await page.close();
  });

  it("shows the requests left, and a 429 in the status line with its message", async () => {
    const key = await managedKey("hasty", { requests_per_minute: 5 });
    const page = await openPlayground(metered.url, key);
    await expect.poll(() => figuresOf(page)).toMatchObject({ "Requests left (per minute)": expect.stringMatching(/^\d of 5 · resets in /) });
    // The rest of the minute's requests go elsewhere: the page's next one is refused.
    let refused = false;
    for (let attempt = 0; attempt < 10 && !refused; attempt++) {
      const answer = await metered.request("/v1/models", { headers: { Authorization: `Bearer ${key}` } });
      await answer.body?.cancel();
      refused = answer.status === 429;
    }
    expect(refused).toBe(true);

    await ask(page, "hello again");
    const status = page.getByRole("status");
    await expect
      .poll(() => status.textContent(), { timeout: 15_000 })
      .toMatch(/^The turn failed: Rate limit reached: 5 requests per minute for this key\. Retry after \d+ s\.$/);
    expect(await status.getAttribute("class")).toContain("error");
    await expect.poll(() => figuresOf(page)).toMatchObject({ "Requests left (per minute)": expect.stringMatching(/^0 of 5 · resets in /) });
    expect(metered.upstream.chatCalls).toEqual([]);
    await page.close();
  });

  it("shows a spent budget's 429 insufficient_quota in the status line with its message", async () => {
    const key = await managedKey("frugal", { spend_usd_per_day: 0.000001 });
    const page = await openPlayground(metered.url, key);
    await expect.poll(() => figuresOf(page)).toMatchObject({ "Model requests": "0" });
    await ask(page, "hello, budget");
    const status = page.getByRole("status");
    await expect
      .poll(() => status.textContent(), { timeout: 15_000 })
      .toMatch(/The turn failed: The budget of \$0\.000001 per day for this key is spent\. It resets at \S+Z\.$/);
    expect(await status.getAttribute("class")).toContain("error");
    expect(metered.upstream.chatCalls).toEqual([]);
    await expect.poll(() => figuresOf(page)).toMatchObject({ "Model requests": "0", "Calls in flight": "0" });
    await page.close();
  });
});
