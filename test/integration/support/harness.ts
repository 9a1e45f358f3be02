// Runs the orchestrator and every tool Worker together in Miniflare, from their wrangler.toml files
// and their bundles in dist/ (built by `npm test` first), with every outbound host replaced by a
// MockUpstream and a misbehaving test tool bound next to the real ones.

import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import OpenAI from "openai";
import { listWorkers, miniflareWorkers } from "../../../scripts/lib/workers.mjs";
import { MockUpstream } from "./mock-upstream.js";

const flakyTool = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../fixtures/workers/flaky-tool.mjs");

export interface Switchboard {
  url: URL;
  upstream: MockUpstream;
  openai: OpenAI;
  miniflare: Miniflare;
  request(pathname: string, init?: RequestInit): Promise<Response>;
  dispose(): Promise<void>;
}

export interface StartOptions {
  /** Orchestrator variables, over the test defaults. */
  vars?: Record<string, string>;
}

export async function startSwitchboard(options: StartOptions = {}): Promise<Switchboard> {
  const upstream = new MockUpstream();
  const orchestrator = listWorkers()[0]!.name;
  const overrides: Record<string, object> = {};
  const workers = miniflareWorkers(listWorkers()).map((worker) => {
    const extra = worker.name === orchestrator
      ? {
          bindings: {
            ...worker.bindings,
            DMXAPI_API_KEY: "sk-test-dmxapi",
            DMXAPI_TIMEOUT_MS: "5000",
            TOOL_TIMEOUT_MS: "1000",
            ...options.vars,
          },
          serviceBindings: { ...(worker.serviceBindings as object), TOOL_FLAKY: "flaky-tool" },
        }
      : {};
    return { ...worker, ...extra, outboundService: upstream.fetch };
  });
  void overrides;
  const miniflare = new Miniflare(
    convertV4MiniflareOptions({
      workers: [
        ...workers,
        { name: "flaky-tool", modules: true, scriptPath: flakyTool, compatibilityDate: "2026-11-01" },
      ],
    } as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  const url = await miniflare.ready;
  return {
    url,
    upstream,
    miniflare,
    openai: new OpenAI({ baseURL: new URL("/v1", url).href, apiKey: "sk-client", maxRetries: 0 }),
    request: (pathname, init) => fetch(new URL(pathname, url), init),
    dispose: () => miniflare.dispose(),
  };
}
