// The orchestrator's app as unit tests drive it inside workerd: its env with the offline model as
// DMXAPI (reached through a stubbed global fetch), and an ExecutionContext a test can wait on.

import { reset } from "cloudflare:test";
import { env as workerEnv } from "cloudflare:workers";
import { afterEach, beforeEach, vi } from "vitest";
import { handleModelRequest } from "../../../dev/offline-model/index.js";
import { createApp } from "../../../src/app.js";
import type { Env } from "../../../src/env.js";

// The client key the app is configured with. The orchestrator may require Bearer keys
// (SWITCHBOARD_API_KEYS); sending one is harmless where it does not.
export const CLIENT_KEY = "sk-switchboard-unit-test-key";
const OFFLINE_MODEL_BASE_URL = "http://offline-model.test/v1";

export type TestEnv = Env & Record<string, unknown>;

export function testEnv(overrides: Record<string, unknown> = {}): TestEnv {
  return {
    ...(workerEnv as unknown as Env),
    // "DMXAPI" is the offline model (dev/offline-model), reached through the stubbed global fetch.
    DMXAPI_API_KEY: "sk-upstream-unit",
    DMXAPI_BASE_URL: OFFLINE_MODEL_BASE_URL,
    DMXAPI_MODEL: "switchboard-offline",
    DMXAPI_MAX_RETRIES: "0",
    SWITCHBOARD_API_KEYS: `unit:${CLIENT_KEY}`,
    ...overrides,
  } as TestEnv;
}

/** An ExecutionContext that keeps what was handed to waitUntil, so a test can let it finish. */
export function executionContext() {
  const pending: Promise<unknown>[] = [];
  const ctx = {
    waitUntil(promise: Promise<unknown>) {
      pending.push(promise.catch(() => undefined));
    },
    passThroughOnException() {},
    props: {},
  };
  return { ctx: ctx as unknown as ExecutionContext, settle: () => Promise.all(pending) };
}

/** Every fetch the app makes goes to the offline model; anything else fails the test. */
export function routeFetchToOfflineModel(): void {
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input, init);
    if (!request.url.startsWith(OFFLINE_MODEL_BASE_URL)) throw new Error(`Unexpected fetch in a unit test: ${request.url}`);
    return handleModelRequest(request);
  });
}

/**
 * Requests to the orchestrator's app, as a client sends them (with the client key unless the test
 * sets Authorization), each with an ExecutionContext; `settle` lets what they handed to waitUntil finish.
 */
export function appRequests() {
  let contexts: Array<ReturnType<typeof executionContext>> = [];
  const run = (request: Request | string, init: RequestInit | undefined, env: TestEnv) => {
    const context = executionContext();
    contexts.push(context);
    return createApp().request(request, init, env, context.ctx);
  };
  return {
    call(path: string, init: RequestInit = {}, env: TestEnv = testEnv()): Promise<Response> {
      const headers = new Headers(init.headers);
      if (!headers.has("Authorization")) headers.set("Authorization", `Bearer ${CLIENT_KEY}`);
      return Promise.resolve(run(`https://switchboard.test${path}`, { ...init, headers }, env));
    },
    callWith: (request: Request, env: TestEnv = testEnv()): Promise<Response> => Promise.resolve(run(request, undefined, env)),
    async settle(): Promise<void> {
      const pending = contexts;
      contexts = [];
      await Promise.all(pending.map((context) => context.settle()));
    },
  };
}

/**
 * The hooks every test file of the app shares: the app's log lines kept out of the output, fetches
 * routed to the offline model; afterwards, what the requests deferred finishes and storage is reset.
 */
export function useAppHooks(settle: () => Promise<void>): void {
  beforeEach(() => {
    // The app writes a JSON access log line per request; keep the test output readable.
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    routeFetchToOfflineModel();
  });
  afterEach(async () => {
    await settle();
    vi.restoreAllMocks();
    await reset();
  });
}
