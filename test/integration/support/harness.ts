// Runs the orchestrator and every tool Worker together in Miniflare, from their wrangler.toml files
// and their bundles in dist/ (built once per run by the globalSetup, as a deploy bundles them), with
// every outbound host replaced by a MockUpstream and a misbehaving test tool bound next to the real
// ones; or with the offline model as DMXAPI, as `npm start` runs it.

import path from "node:path";
import { fileURLToPath } from "node:url";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { listWorkers, miniflareWorkers, offlineModel } from "../../../scripts/lib/workers.mjs";
import { MockUpstream } from "./mock-upstream.js";

const flakyTool = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../fixtures/workers/flaky-tool.mjs");

/** Two tenants' keys, and the DMXAPI key the orchestrator uses: none may ever appear in a log. */
export const KEYS = {
  tenantA: "sk-client-tenant-a-0123456789",
  tenantB: "sk-client-tenant-b-9876543210",
  dmxapi: "sk-test-dmxapi-secret-42",
  webhooks: "sk-client-webhooks-5555",
} as const;

/** Signing secrets of the repository's example hooks (src/webhooks/hooks.ts), as the tests set them. */
export const HOOK_SECRETS = {
  github: "It's a Secret to Everybody",
  orders: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  ordersCallback: "whsec_c2VjcmV0LWZvci1jYWxsYmFja3MtMTIzNDU2Nzg=",
  ordersCallbackUrl: "https://callbacks.example.com/orders",
} as const;

export interface Switchboard {
  url: URL;
  upstream: MockUpstream;
  /** An openai client with tenant A's key. */
  openai: OpenAI;
  miniflare: Miniflare;
  /** Every line the Workers logged (console.log / warn / error), in order. */
  logs: string[];
  /** HTTP to the orchestrator, with tenant A's key unless the request sets its own Authorization. */
  request(pathname: string, init?: RequestInit): Promise<Response>;
  client(apiKey: string): OpenAI;
  dispose(): Promise<void>;
}

export interface StartOptions {
  /** Orchestrator variables, over the test defaults. */
  vars?: Record<string, string>;
  /** The Workers to run, orchestrator first, already bundled: this repository's (`listWorkers()`) by default. */
  workers?: ReturnType<typeof listWorkers>;
  /**
   * "mock" (default): tests script DMXAPI's answers. "offline": the offline model (dev/offline-model)
   * is DMXAPI, wired as `npm start` wires it: the orchestrator's outbound service.
   */
  model?: "mock" | "offline";
  /** More Workers (Miniflare options) to run next to the project's, and orchestrator bindings to them. */
  extraWorkers?: object[];
  serviceBindings?: Record<string, string>;
  /** Keep state (KV, Durable Objects and their alarms) on disk here, so a later start finds it, as `npm start` does. */
  persistTo?: string;
  /** The mock upstream to use (one that outlives a restart); a new one by default. */
  upstream?: MockUpstream;
}

export async function startSwitchboard(options: StartOptions = {}): Promise<Switchboard> {
  const upstream = options.upstream ?? new MockUpstream();
  const projectWorkers = options.workers ?? listWorkers();
  const orchestrator = projectWorkers[0]!.name;
  const offline = options.model === "offline" ? offlineModel() : null;
  const workers = miniflareWorkers([...projectWorkers, ...(offline ? [offline.worker] : [])]).map((worker) => {
    const extra =
      worker.name === orchestrator
        ? {
            bindings: {
              ...worker.bindings,
              DMXAPI_API_KEY: KEYS.dmxapi,
              SWITCHBOARD_API_KEYS: `tenant-a:${KEYS.tenantA},tenant-b:${KEYS.tenantB},webhooks:${KEYS.webhooks}`,
              GITHUB_WEBHOOK_SECRET: HOOK_SECRETS.github,
              ORDERS_WEBHOOK_SECRET: HOOK_SECRETS.orders,
              ORDERS_CALLBACK_SECRET: HOOK_SECRETS.ordersCallback,
              ORDERS_CALLBACK_URL: HOOK_SECRETS.ordersCallbackUrl,
              WEBHOOK_RETRY_BASE_SECONDS: "0",
              DMXAPI_TIMEOUT_MS: "5000",
              TOOL_TIMEOUT_MS: "300",
              ...(offline ? { DMXAPI_BASE_URL: offline.baseUrl } : {}),
              ...options.vars,
            },
            serviceBindings: { ...(worker.serviceBindings as object), TOOL_FLAKY: "flaky-tool", ...options.serviceBindings },
          }
        : {};
    const outboundService = offline && worker.name === orchestrator ? offline.worker.name : upstream.fetch;
    return { ...worker, ...extra, outboundService };
  });
  const logs: string[] = [];
  const miniflare = new Miniflare(
    convertV4MiniflareOptions({
      handleStructuredLogs: (log: { message: string }) => {
        logs.push(log.message);
      },
      workers: [...workers, { name: "flaky-tool", modules: true, scriptPath: flakyTool, compatibilityDate: "2026-11-01" }, ...(options.extraWorkers ?? [])],
      ...(options.persistTo ? { resourcePersistencePath: options.persistTo } : {}),
    } as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  const url = await miniflare.ready;
  return {
    url,
    upstream,
    miniflare,
    logs,
    openai: new OpenAI({ baseURL: new URL("/v1", url).href, apiKey: KEYS.tenantA, maxRetries: 0 }),
    client: (apiKey) => new OpenAI({ baseURL: new URL("/v1", url).href, apiKey, maxRetries: 0 }),
    request: (pathname, init = {}) => {
      const headers = new Headers(init.headers);
      if (!headers.has("Authorization")) headers.set("Authorization", `Bearer ${KEYS.tenantA}`);
      return fetch(new URL(pathname, url), { ...init, headers });
    },
    dispose: () => miniflare.dispose(),
  };
}

/**
 * One Switchboard for a whole test file: started before the first test, disposed after the last, its
 * mock upstream reset before each test. The returned object forwards to the running instance.
 */
export function useSwitchboard(options: StartOptions = {}): Switchboard {
  let current: Switchboard | undefined;
  beforeAll(async () => {
    current = await startSwitchboard(options);
  });
  afterAll(async () => {
    await current?.dispose();
  });
  beforeEach(() => current?.upstream.reset());
  return new Proxy({} as Switchboard, {
    get(_target, property) {
      if (!current) throw new Error("The Switchboard is not started yet: use it inside a test or hook.");
      return Reflect.get(current, property);
    },
  });
}
