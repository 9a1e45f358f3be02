// What the bench and its profiler share: the mock upstream process, and the Miniflare options that run
// every Worker in one workerd with the Workers under test on their own loopback sockets.

import { fork } from "node:child_process";
import path from "node:path";
import { root } from "../lib/workers.mjs";
import { BENCH_WORKERS } from "./build.mjs";

export const CLIENT_KEY = "sk-bench-client-0123456789abcdef";
/** The operator's key: the bench makes a managed key with limits through /v1/admin/keys with it. */
export const ADMIN_KEY = "sk-bench-admin-0123456789abcdef";
export const UPSTREAM_KEY = "sk-bench-upstream-0123456789abcdef";
export const MODEL = "gpt-5-mini";
export const ORCHESTRATOR = "switchboard";
/** The orchestrator's own bundle and bindings again, as deployed, but calling the mock's realistic model. */
export const REALISTIC_ORCHESTRATOR = "bench-switchboard-realistic";
/** An ephemeral port on loopback: Miniflare serves the Worker on it directly (no entry Worker). */
export const DIRECT_SOCKET = [{ host: "127.0.0.1", port: 0 }];

/** A chat request body; `extra` adds fields (`server_tools`, `stream`, ...). */
export const requestBody = (content, extra = {}) => JSON.stringify({ model: MODEL, messages: [{ role: "user", content }], ...extra });
export const requestHeaders = { "content-type": "application/json", authorization: `Bearer ${CLIENT_KEY}` };

/** The mock's realistic model (scripts/bench/mock-upstream.mjs): the same server, under /realistic/. */
export const realisticBaseUrl = (upstreamBaseUrl) => upstreamBaseUrl.replace(/\/v1$/, "/realistic/v1");

/**
 * Starts scripts/bench/mock-upstream.mjs in its own Node process; resolves once it listens. `answerMs` and
 * `firstContentMs` set its realistic model's holds (its defaults: 200 and 150).
 */
export async function startMock({ answerMs, firstContentMs } = {}) {
  const env = { ...process.env };
  if (answerMs !== undefined) env.MOCK_ANSWER_MS = String(answerMs);
  if (firstContentMs !== undefined) env.MOCK_FIRST_CONTENT_MS = String(firstContentMs);
  const child = fork(path.join(root, "scripts/bench/mock-upstream.mjs"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"], env });
  const port = await new Promise((resolve, reject) => {
    child.once("message", (message) => resolve(message.port));
    child.once("exit", (code) => reject(new Error(`mock upstream exited (${code}) before listening`)));
  });
  const baseUrl = `http://127.0.0.1:${port}/v1`;
  return { child, port, baseUrl, realisticBaseUrl: realisticBaseUrl(baseUrl) };
}

export async function mockStats(port) {
  return (await fetch(`http://127.0.0.1:${port}/__stats`)).json();
}

/** Orchestrator variables for the bench: the mock as DMXAPI, one client key, no retries (errors show). */
export function orchestratorVars(upstreamBaseUrl) {
  return {
    DMXAPI_BASE_URL: upstreamBaseUrl,
    DMXAPI_API_KEY: UPSTREAM_KEY,
    DMXAPI_MODEL: MODEL,
    DMXAPI_MAX_RETRIES: "0",
    SWITCHBOARD_API_KEYS: `bench:${CLIENT_KEY}`,
    SWITCHBOARD_ADMIN_KEY: ADMIN_KEY,
    MODEL_PRICES: JSON.stringify({ [MODEL]: { input: 0.25, cached_input: 0.025, output: 2 } }),
  };
}

/**
 * Every Worker for one Miniflare: the project's (from their wrangler.toml, via miniflareWorkers()), the
 * orchestrator with a direct socket, a copy of it calling the realistic model, and the bench's own
 * Workers, each with a direct socket.
 */
export function benchWorkerOptions(projectWorkers, upstreamBaseUrl) {
  const orchestrator = projectWorkers.find((worker) => worker.name === ORCHESTRATOR);
  if (!orchestrator) throw new Error(`No ${ORCHESTRATOR} Worker in ${projectWorkers.map((worker) => worker.name).join(", ")}`);
  const vars = orchestratorVars(upstreamBaseUrl);
  const project = projectWorkers.map((worker) =>
    worker.name === ORCHESTRATOR ? { ...worker, bindings: { ...worker.bindings, ...vars }, unsafeDirectSockets: DIRECT_SOCKET } : worker,
  );
  // The wrappers share the orchestrator's bindings but must not also consume its queues or run its
  // crons (a queue has one consumer): they only serve HTTP.
  const { name: _name, scriptPath: _script, queueConsumers: _consumers, cronTriggers: _crons, routes: _routes, ...orchestratorShape } = orchestrator;
  const compatibilityDate = orchestrator.compatibilityDate;
  /** The orchestrator's bundle behind a wrapper entry: same bindings (tool services included), own KV. */
  const wrapped = (worker, namespace) => ({
    ...orchestratorShape,
    name: worker.name,
    scriptPath: worker.scriptPath,
    bindings: { ...orchestrator.bindings, ...vars },
    kvNamespaces: { CONVERSATIONS: { id: namespace } },
    unsafeDirectSockets: DIRECT_SOCKET,
  });
  return [
    ...project,
    // The model's URL is a variable of the Worker, so the realistic model needs a Worker of its own: the
    // same bundle, bindings and KV namespace (emptied with the orchestrator's), its own Durable Objects.
    {
      ...orchestratorShape,
      name: REALISTIC_ORCHESTRATOR,
      scriptPath: orchestrator.scriptPath,
      bindings: { ...orchestrator.bindings, ...orchestratorVars(realisticBaseUrl(upstreamBaseUrl)) },
      unsafeDirectSockets: DIRECT_SOCKET,
    },
    wrapped(BENCH_WORKERS.counting, "bench-counting"),
    wrapped(BENCH_WORKERS.memoryKv, "bench-memory-kv-unused"),
    // Bound to the orchestrator's own CONVERSATIONS namespace (same id, so the same storage).
    {
      name: BENCH_WORKERS.kvAdmin.name,
      modules: true,
      scriptPath: BENCH_WORKERS.kvAdmin.scriptPath,
      compatibilityDate,
      kvNamespaces: { KV: orchestrator.kvNamespaces.CONVERSATIONS },
      unsafeDirectSockets: DIRECT_SOCKET,
    },
    {
      name: BENCH_WORKERS.passthrough.name,
      modules: true,
      scriptPath: BENCH_WORKERS.passthrough.scriptPath,
      compatibilityDate,
      bindings: { UPSTREAM_URL: `${upstreamBaseUrl}/chat/completions`, UPSTREAM_API_KEY: UPSTREAM_KEY },
      unsafeDirectSockets: DIRECT_SOCKET,
    },
    {
      name: BENCH_WORKERS.peer.name,
      modules: true,
      scriptPath: BENCH_WORKERS.peer.scriptPath,
      compatibilityDate,
      bindings: { UPSTREAM_BASE_URL: upstreamBaseUrl, UPSTREAM_API_KEY: UPSTREAM_KEY, UPSTREAM_MODEL: MODEL },
      unsafeDirectSockets: DIRECT_SOCKET,
    },
  ];
}

/**
 * A managed key with every limit set far above what the bench sends: what the managed-key scenario
 * pays is its key's object being asked (auth, limits; per model call a reservation and its settlement),
 * never a refusal.
 */
export async function managedKey(orchestratorUrl) {
  const response = await fetch(new URL("/v1/admin/keys", orchestratorUrl), {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify({
      name: "bench",
      tenant: "bench-managed",
      limits: { requests_per_minute: 100_000_000, concurrent_turns: 100_000, tokens_per_day: 1_000_000_000_000, spend_usd_per_day: 1_000_000 },
    }),
  });
  if (response.status !== 201) throw new Error(`Could not make the bench's managed key: ${response.status} ${await response.text()}`);
  return (await response.json()).key;
}
