// `npm run bench` (issue 7): what the orchestrator costs on top of the platform, locally, in workerd.
//
// A zero-latency mock model (scripts/bench/mock-upstream.mjs, its own Node process on 127.0.0.1)
// answers every model call instantly, so what is measured is the Workers' own work:
//   1. floor        a request straight to the mock
//   2. passthrough  a bare Worker that forwards the body to the mock with fetch (the platform's hop)
//   3. orchestrator POST /v1/chat/completions, the model answers text directly
//   4. orch + tool  one tool round trip: model → `calculate` tool Worker over its service binding → model
//   5. AI SDK peer  the same one-tool loop run in-process by the Vercel AI SDK inside one Worker
//   3m. (diagnostic) scenario 3 with an in-memory KV in place of Miniflare's local KV simulator
// each at several concurrencies, in interleaved rounds after a warm-up (A B C D E, A B C D E, ...), so
// drift on a noisy machine hits every scenario alike. Also: KV operations per turn, bundle sizes, and
// per-Worker startup time.
//
// Every Worker runs in ONE Miniflare (one workerd process). Each Worker under test gets its own
// loopback socket (`unsafeDirectSockets`, ephemeral port), so requests reach it without Miniflare's
// entry Worker in between; tool Workers have no socket and are reached only over service bindings.
//
//   node scripts/bench.mjs            full run (results in bench/results/tmp/, which git ignores)
//   node scripts/bench.mjs --quick    smoke run (bench/results/tmp/quick.{json,svg})
//   node scripts/bench.mjs --save     a full run that also writes the published bench/results/latest.{json,svg}
//                                     and a dated copy (tracked files: commit them with the README's table)
//   BENCH_SECONDS (2.5)  BENCH_ROUNDS (3)  BENCH_WARMUP_SECONDS (2 per scenario)  BENCH_CONCURRENCY (1,16,64)
//   BENCH_STARTUP_RUNS (3)  BENCH_KV_TURNS (20)  BENCH_PAUSE_MS (250)
//   BENCH_DIAGNOSTICS=0  drops the diagnostic scenario 3m (orchestrator, no tools, in-memory KV)

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { BENCH_WORKERS, benchDir, buildAll, bundleSize } from "./bench/build.mjs";
import { median, percentile, runLoad } from "./bench/load.mjs";
import { TEXT_PROMPT, TOOL_PROMPT } from "./bench/prompts.mjs";
import { bundleTable, comparisonTable, kvTable, latencyTable, renderSvg, startupTable } from "./bench/report.mjs";
import { benchWorkerOptions, requestHeaders as headers, mockStats, ORCHESTRATOR, orchestratorVars, requestBody, startMock } from "./bench/setup.mjs";
import { miniflareWorkers, root } from "./lib/workers.mjs";

// ---------------------------------------------------------------------------------------------
// Settings

const USAGE = `Usage: npm run bench [-- --quick] [-- --save]

  (none)    full run, about 3.5 minutes; results in bench/results/tmp/ (ignored by git)
  --quick   smoke run, about 45 s; bench/results/tmp/quick.{json,svg}
  --save    full run that also writes the published bench/results/latest.{json,svg} and a dated copy
Environment: BENCH_SECONDS BENCH_ROUNDS BENCH_WARMUP_SECONDS BENCH_CONCURRENCY BENCH_STARTUP_RUNS BENCH_KV_TURNS
BENCH_PAUSE_MS BENCH_DIAGNOSTICS=0 (see bench/README.md).`;
let cli;
try {
  cli = parseArgs({
    options: { quick: { type: "boolean", default: false }, save: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
  });
} catch (error) {
  console.error(`bench: ${error instanceof Error ? error.message : error}\n\n${USAGE}`);
  process.exit(1);
}
if (cli.values.help) {
  console.log(USAGE);
  process.exit(0);
}
const quick = cli.values.quick;
if (quick && cli.values.save) {
  console.error("bench: --save publishes a full run; it does not go with --quick.");
  process.exit(1);
}
const numberFrom = (name, fallback) => {
  const value = Number.parseFloat(process.env[name] ?? "");
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const settings = {
  quick,
  seconds: numberFrom("BENCH_SECONDS", quick ? 1 : 2.5),
  rounds: Math.round(numberFrom("BENCH_ROUNDS", quick ? 1 : 3)),
  warmupSeconds: numberFrom("BENCH_WARMUP_SECONDS", quick ? 0.6 : 2),
  concurrency: (process.env.BENCH_CONCURRENCY ?? "1,16,64")
    .split(",")
    .map((value) => Number.parseInt(value, 10))
    .filter((value) => value > 0),
  startupRuns: Math.round(numberFrom("BENCH_STARTUP_RUNS", quick ? 1 : 3)),
  kvTurns: Math.round(numberFrom("BENCH_KV_TURNS", quick ? 5 : 20)),
  pauseMs: numberFrom("BENCH_PAUSE_MS", 250),
  // Scenario 3m: the orchestrator with an in-memory KV in place of Miniflare's local KV simulator.
  diagnostics: process.env.BENCH_DIAGNOSTICS !== "0",
};

const startedAt = performance.now();
const loadAverageAtStart = os.loadavg();
const log = (message) => console.log(message);
const elapsed = () => `${((performance.now() - startedAt) / 1000).toFixed(1)} s`;

// ---------------------------------------------------------------------------------------------
// Processes we start, and stop on the way out (only these, by handle).

let mock = null;
let miniflare = null;
async function cleanup() {
  const current = miniflare;
  miniflare = null;
  await current?.dispose().catch(() => undefined);
  if (mock && mock.exitCode === null) mock.kill("SIGTERM");
  mock = null;
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

/** Workers' console output: counted, never printed while measuring; the first errors are kept. */
const workerLogs = { log: 0, info: 0, warn: 0, error: 0, debug: 0, other: 0, firstProblems: [] };
function onWorkerLog(entry) {
  const level = entry.level in workerLogs && entry.level !== "firstProblems" ? entry.level : "other";
  workerLogs[level]++;
  if ((level === "warn" || level === "error") && workerLogs.firstProblems.length < 10) workerLogs.firstProblems.push(String(entry.message).slice(0, 500));
}

// ---------------------------------------------------------------------------------------------
// Helpers

const statsDelta = (after, before) => Object.fromEntries(Object.keys(after).map((key) => [key, after[key] - (before[key] ?? 0)]));

async function post(url, content, extraHeaders = {}) {
  const response = await fetch(url, { method: "POST", headers: { ...headers, ...extraHeaders }, body: requestBody(content) });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, headers: response.headers, text, json };
}

const answerOf = (json) => json?.choices?.[0]?.message?.content;

// ---------------------------------------------------------------------------------------------
// Sections

async function sanityCheck(scenarios, mockPort) {
  for (const scenario of scenarios) {
    const before = await mockStats(mockPort);
    const response = await post(scenario.url, scenario.prompt);
    const delta = statsDelta(await mockStats(mockPort), before);
    const problems = [];
    if (response.status !== 200) problems.push(`status ${response.status}: ${response.text.slice(0, 300)}`);
    if (answerOf(response.json) !== scenario.expect.answer)
      problems.push(`answer ${JSON.stringify(answerOf(response.json))}, expected ${JSON.stringify(scenario.expect.answer)}`);
    for (const [key, value] of Object.entries(scenario.expect.upstream)) {
      if (delta[key] !== value) problems.push(`mock saw ${key}=${delta[key]}, expected ${value}`);
    }
    if (problems.length > 0) throw new Error(`Scenario "${scenario.label}" does not do what it should:\n  ${problems.join("\n  ")}`);
  }
}

async function settleCounts(countsUrl) {
  // Deletes of superseded snapshots run after the response (waitUntil): wait until the counts stop moving.
  let last = "";
  for (let attempt = 0; attempt < 40; attempt++) {
    const text = await (await fetch(countsUrl)).text();
    if (text === last) return JSON.parse(text);
    last = text;
    await sleep(50);
  }
  return JSON.parse(last);
}

async function countKv(baseUrl, turns) {
  const chatUrl = new URL("/v1/chat/completions", baseUrl).href;
  const countsUrl = new URL("/__kv_counts", baseUrl).href;
  const reset = () => fetch(new URL("/__kv_counts/reset", baseUrl), { method: "POST" });
  const cases = [];

  async function measure(label, description, run) {
    await settleCounts(countsUrl);
    await reset();
    await run();
    const counts = await settleCounts(countsUrl);
    cases.push({ label, description, turns, totals: counts, perTurn: Object.fromEntries(Object.entries(counts).map(([op, n]) => [op, n / turns])) });
  }

  const turn = async (content, conversationId) => {
    const response = await post(chatUrl, content, conversationId ? { "X-Conversation-Id": conversationId } : {});
    if (response.status !== 200) throw new Error(`KV counting turn failed: ${response.status} ${response.text.slice(0, 300)}`);
    return response.headers.get("X-Conversation-Id");
  };

  await measure("new conversation, no tool", "no conversation_id: a new conversation per turn", async () => {
    for (let index = 0; index < turns; index++) await turn(TEXT_PROMPT);
  });
  const conversationId = await turn(TEXT_PROMPT);
  await measure("continued conversation, no tool", `turns 2..${turns + 1} of one conversation, sequential`, async () => {
    for (let index = 0; index < turns; index++) await turn(TEXT_PROMPT, conversationId);
  });
  await measure("new conversation, one tool call", "no conversation_id, one calculate round trip", async () => {
    for (let index = 0; index < turns; index++) await turn(TOOL_PROMPT);
  });
  return { method: "counting Proxy around env.CONVERSATIONS (bench/workers/kv-counting-entry.mjs wrapping dist/switchboard/index.js)", cases };
}

async function measureLatency(scenarios, mockPort, kvAdminUrl) {
  const runs = [];
  const oneRun = async (scenario, concurrency, seconds, round) => {
    // Every run starts with an empty CONVERSATIONS namespace: Miniflare's local KV lists by scanning
    // the whole namespace, so without this a run's cost would depend on how many runs wrote before it.
    const { deleted: purgedKeys } = await (await fetch(new URL("/purge", kvAdminUrl), { method: "POST" })).json();
    if (purgedKeys > 0) await sleep(settings.pauseMs);
    const before = await mockStats(mockPort);
    const result = await runLoad({ url: scenario.url, body: requestBody(scenario.prompt), headers, connections: concurrency, seconds });
    const delta = statsDelta(await mockStats(mockPort), before);
    await sleep(settings.pauseMs);
    const sorted = Float64Array.from(result.latencies).sort();
    return {
      scenario: scenario.key,
      concurrency,
      round,
      seconds: result.seconds,
      sorted,
      ok: result.ok,
      errors: result.errors + result.non2xx,
      timeouts: result.timeouts,
      statusCodes: result.statusCodes,
      medianMs: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      reqPerSec: result.ok / result.seconds,
      upstreamCallsPerRequest: result.ok > 0 ? delta.requests / result.ok : null,
      upstreamBytesPerCall: delta.requests > 0 ? delta.bytesIn / delta.requests : null,
      purgedKeys,
    };
  };

  log(`\nWarm-up: ${settings.warmupSeconds} s per scenario, split over c=${settings.concurrency.join(",")}`);
  for (const scenario of scenarios) {
    for (const concurrency of settings.concurrency) {
      const run = await oneRun(scenario, concurrency, settings.warmupSeconds / settings.concurrency.length, 0);
      if (run.errors > 0) log(`  warm-up ${scenario.short} c=${concurrency}: ${run.errors} errors ${JSON.stringify(run.statusCodes)}`);
    }
  }

  for (let round = 1; round <= settings.rounds; round++) {
    log(`Round ${round}/${settings.rounds} (${elapsed()})`);
    for (const concurrency of settings.concurrency) {
      const line = [];
      for (const scenario of scenarios) {
        const run = await oneRun(scenario, concurrency, settings.seconds, round);
        runs.push(run);
        line.push(`${scenario.short} ${run.medianMs.toFixed(2)} ms ${run.reqPerSec.toFixed(0)}/s${run.errors ? ` ERR ${run.errors}` : ""}`);
      }
      log(`  c=${String(concurrency).padEnd(3)} ${line.join(" | ")}`);
    }
  }

  return scenarios.flatMap((scenario) =>
    settings.concurrency.map((concurrency) => {
      const mine = runs.filter((run) => run.scenario === scenario.key && run.concurrency === concurrency);
      const pooled = new Float64Array(mine.reduce((sum, run) => sum + run.sorted.length, 0));
      let offset = 0;
      for (const run of mine) {
        pooled.set(run.sorted, offset);
        offset += run.sorted.length;
      }
      pooled.sort();
      const ok = mine.reduce((sum, run) => sum + run.ok, 0);
      const seconds = mine.reduce((sum, run) => sum + run.seconds, 0);
      const statusCodes = {};
      for (const run of mine) for (const [code, count] of Object.entries(run.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + count;
      return {
        scenario: scenario.key,
        concurrency,
        // Latency percentiles over every response of every round; throughput over the summed run time.
        medianMs: percentile(pooled, 50),
        p90Ms: percentile(pooled, 90),
        p99Ms: percentile(pooled, 99),
        maxMs: pooled.length ? pooled[pooled.length - 1] : Number.NaN,
        meanMs: pooled.length ? pooled.reduce((sum, value) => sum + value, 0) / pooled.length : Number.NaN,
        reqPerSec: ok / seconds,
        samples: ok,
        errors: mine.reduce((sum, run) => sum + run.errors, 0),
        timeouts: mine.reduce((sum, run) => sum + run.timeouts, 0),
        statusCodes,
        // Checks on the mock's side: model calls per answered request (in-flight ones at a run's end
        // inflate it slightly), and the mean size of the request bodies the model received.
        upstreamCallsPerRequest: median(mine.map((run) => run.upstreamCallsPerRequest).filter((value) => value !== null)),
        upstreamBytesPerCall: median(mine.map((run) => run.upstreamBytesPerCall).filter((value) => value !== null)),
        rounds: mine.map((run) => ({
          round: run.round,
          seconds: run.seconds,
          samples: run.ok,
          medianMs: run.medianMs,
          p99Ms: run.p99Ms,
          reqPerSec: run.reqPerSec,
          errors: run.errors,
          keysPurgedBefore: run.purgedKeys,
        })),
      };
    }),
  );
}

async function measureStartup(projectWorkers) {
  const strip = ({ serviceBindings: _services, unsafeDirectSockets: _sockets, ...options }) => options;
  const compatibilityDate = projectWorkers[0].compatibilityDate;
  const candidates = [
    {
      worker: BENCH_WORKERS.empty.name,
      options: { name: BENCH_WORKERS.empty.name, modules: true, scriptPath: BENCH_WORKERS.empty.scriptPath, compatibilityDate },
    },
    // Alone, without its tool Workers: service bindings need their targets in the same instance, and
    // nothing is called at startup anyway (tools are discovered on the first request).
    ...projectWorkers.map((worker) => ({ worker: worker.name, options: strip(worker) })),
    {
      worker: BENCH_WORKERS.passthrough.name,
      options: { name: BENCH_WORKERS.passthrough.name, modules: true, scriptPath: BENCH_WORKERS.passthrough.scriptPath, compatibilityDate },
    },
    {
      worker: BENCH_WORKERS.peer.name,
      options: { name: BENCH_WORKERS.peer.name, modules: true, scriptPath: BENCH_WORKERS.peer.scriptPath, compatibilityDate },
    },
  ];
  const rows = candidates.map((candidate) => ({ ...candidate, runsMs: [] }));
  // Interleaved like the latency rounds: one start of each Worker per pass.
  for (let run = 0; run < settings.startupRuns; run++) {
    for (const row of rows) {
      const begin = performance.now();
      const instance = new Miniflare(convertV4MiniflareOptions({ host: "127.0.0.1", port: 0, handleStructuredLogs: () => undefined, workers: [row.options] }));
      await instance.ready;
      row.runsMs.push(performance.now() - begin);
      await instance.dispose();
    }
  }
  const baseline = median(rows[0].runsMs);
  return {
    method:
      "wall time of `new Miniflare({ one Worker }).ready` (spawns workerd, loads and evaluates the bundle), median of runs; `over empty` subtracts the same for a one-line Worker",
    baseline: BENCH_WORKERS.empty.name,
    workers: rows.map((row) => ({ worker: row.worker, runsMs: row.runsMs, medianMs: median(row.runsMs), overBaselineMs: median(row.runsMs) - baseline })),
  };
}

function machine() {
  const cpus = os.cpus();
  const version = (pkg) => {
    try {
      return JSON.parse(readFileSync(path.join(root, "node_modules", pkg, "package.json"), "utf8")).version;
    } catch {
      return null;
    }
  };
  return {
    os: `${os.type()} ${os.release()} (${os.platform()} ${os.arch()})`,
    cpus: { model: cpus[0]?.model?.trim() ?? "unknown", count: cpus.length },
    availableParallelism: os.availableParallelism?.() ?? cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    // 1/5/15-minute load averages when the bench started and ended: other work on a shared machine.
    loadAverage: { atStart: loadAverageAtStart, atEnd: os.loadavg() },
    node: process.version,
    versions: {
      miniflare: version("miniflare"),
      workerd: version("workerd"),
      ai: version("ai"),
      "@ai-sdk/openai-compatible": version("@ai-sdk/openai-compatible"),
      autocannon: version("autocannon"),
      hono: version("hono"),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  const date = new Date();
  log(`Switchboard bench${quick ? " (--quick)" : ""}: ${settings.rounds} round(s) × ${settings.seconds} s per scenario × c=${settings.concurrency.join(",")}`);

  const built = await buildAll();
  log(`Built ${built.workers.length} project Workers and the bench Workers in ${built.ms.toFixed(0)} ms`);
  const bundles = [
    ...built.workers.map((worker) => ({ worker: worker.name, ...bundleSize(worker.outFile) })),
    { worker: BENCH_WORKERS.passthrough.name, ...bundleSize(BENCH_WORKERS.passthrough.scriptPath) },
    { worker: BENCH_WORKERS.peer.name, ...bundleSize(BENCH_WORKERS.peer.scriptPath) },
  ];

  const mockProcess = await startMock();
  mock = mockProcess.child;
  const mockPort = mockProcess.port;
  const upstreamBaseUrl = `http://127.0.0.1:${mockPort}/v1`;
  log(`Mock upstream on ${upstreamBaseUrl} (pid ${mock.pid})`);

  const projectWorkers = miniflareWorkers(built.workers);
  const readyStart = performance.now();
  const workerOptions = benchWorkerOptions(projectWorkers, upstreamBaseUrl, { diagnostics: settings.diagnostics });
  miniflare = new Miniflare(convertV4MiniflareOptions({ host: "127.0.0.1", port: 0, handleStructuredLogs: onWorkerLog, workers: workerOptions }));
  await miniflare.ready;
  const direct = async (name) => (await miniflare.unsafeGetDirectURL(name)).href;
  const urls = {
    orchestrator: new URL("/v1/chat/completions", await direct(ORCHESTRATOR)).href,
    kvCounting: await direct(BENCH_WORKERS.kvCounting.name),
    kvAdmin: await direct(BENCH_WORKERS.kvAdmin.name),
    passthrough: await direct(BENCH_WORKERS.passthrough.name),
    peer: await direct(BENCH_WORKERS.peer.name),
    memoryKv: settings.diagnostics ? new URL("/v1/chat/completions", await direct(BENCH_WORKERS.memoryKv.name)).href : null,
  };
  log(`Miniflare ready in ${(performance.now() - readyStart).toFixed(0)} ms: ${workerOptions.length} Workers in one workerd`);

  const text = { answer: "Hello.", upstream: { requests: 1, text: 1 } };
  const tool = { answer: "2*(3+4) = 14.", upstream: { requests: 2, toolCall: 1, afterTool: 1, toolResultHas14: 1 } };
  const scenarios = [
    { key: "floor", short: "1", label: "1. mock upstream direct (floor)", url: `${upstreamBaseUrl}/chat/completions`, prompt: TEXT_PROMPT, expect: text },
    { key: "passthrough", short: "2", label: "2. pass-through Worker", url: urls.passthrough, prompt: TEXT_PROMPT, expect: text },
    {
      key: "orchestrator",
      short: "3",
      label: "3. orchestrator, no tools",
      url: urls.orchestrator,
      prompt: TEXT_PROMPT,
      expect: { ...text, upstream: { ...text.upstream, toolsOffered: 1 } },
    },
    ...(settings.diagnostics
      ? [
          {
            key: "orchestrator-memory-kv",
            short: "3m",
            label: "3m. orchestrator, no tools, in-memory KV (diagnostic)",
            url: urls.memoryKv,
            prompt: TEXT_PROMPT,
            expect: { ...text, upstream: { ...text.upstream, toolsOffered: 1 } },
            diagnostic: true,
          },
        ]
      : []),
    { key: "orchestrator-tool", short: "4", label: "4. orchestrator, one tool round trip", url: urls.orchestrator, prompt: TOOL_PROMPT, expect: tool },
    { key: "ai-sdk-peer", short: "5", label: "5. AI SDK peer, one tool round trip", url: urls.peer, prompt: TOOL_PROMPT, expect: tool },
  ];

  await sanityCheck(scenarios, mockPort);
  log("Sanity check passed: every scenario answers as expected and makes the model calls it should");

  const kv = await countKv(urls.kvCounting, settings.kvTurns);
  log(`Counted KV operations over ${settings.kvTurns} turns per case (${elapsed()})`);

  const results = await measureLatency(scenarios, mockPort, urls.kvAdmin);

  await miniflare.dispose();
  miniflare = null;
  mock.kill("SIGTERM");
  mock = null;

  log(`Measuring startup: ${settings.startupRuns} run(s) per Worker (${elapsed()})`);
  const startup = await measureStartup(projectWorkers);

  // -------------------------------------------------------------------------------------------
  const byKey = (key, concurrency) => results.find((result) => result.scenario === key && result.concurrency === concurrency);
  const per = (fn) => Object.fromEntries(settings.concurrency.map((c) => [c, fn(c)]));
  const comparisons = [
    {
      key: "orchestratorVsPassthrough",
      label: "3/2 orchestrator no-tool ÷ pass-through (median)",
      unit: "x",
      values: per((c) => byKey("orchestrator", c).medianMs / byKey("passthrough", c).medianMs),
    },
    {
      key: "orchestratorToolVsPeer",
      label: "4/5 orchestrator one-tool ÷ AI SDK peer (median)",
      unit: "x",
      values: per((c) => byKey("orchestrator-tool", c).medianMs / byKey("ai-sdk-peer", c).medianMs),
    },
    {
      key: "toolRoundTripMs",
      label: "added per tool round trip: median(4) − median(3)",
      unit: "ms",
      values: per((c) => byKey("orchestrator-tool", c).medianMs - byKey("orchestrator", c).medianMs),
    },
    {
      key: "passthroughHopMs",
      label: "platform hop: median(2) − median(1)",
      unit: "ms",
      values: per((c) => byKey("passthrough", c).medianMs - byKey("floor", c).medianMs),
    },
    {
      key: "orchestratorOverheadMs",
      label: "orchestrator over the hop: median(3) − median(2)",
      unit: "ms",
      values: per((c) => byKey("orchestrator", c).medianMs - byKey("passthrough", c).medianMs),
    },
    ...(settings.diagnostics
      ? [
          {
            key: "memoryKvVsPassthrough",
            label: "3m/2 in-memory-KV orchestrator ÷ pass-through",
            unit: "x",
            values: per((c) => byKey("orchestrator-memory-kv", c).medianMs / byKey("passthrough", c).medianMs),
          },
          {
            key: "localKvMs",
            label: "local KV simulator's share: median(3) − median(3m)",
            unit: "ms",
            values: per((c) => byKey("orchestrator", c).medianMs - byKey("orchestrator-memory-kv", c).medianMs),
          },
        ]
      : []),
  ];
  const toolDefinition =
    "A tool round trip is what scenario 4 does beyond scenario 3: one more model call (the model's tool call, then its answer after the tool result) " +
    "plus one tool call (the calculate tool Worker over its service binding, arguments validated against its JSON Schema first). " +
    "Added ms per tool round trip = median latency of 4 − median latency of 3, at the same concurrency.";

  const totalSeconds = (performance.now() - startedAt) / 1000;
  const report = {
    schema: 1,
    date: date.toISOString(),
    quick,
    totalSeconds,
    machine: machine(),
    settings,
    setup: {
      runtime:
        "one Miniflare instance (one workerd process): the orchestrator, its 4 tool Workers, the KV-counting wrapper, the pass-through Worker and the AI SDK peer",
      routing:
        "each Worker under test has its own loopback socket (Miniflare unsafeDirectSockets, ephemeral port): no Miniflare entry Worker in the path; tool Workers are reachable only over service bindings",
      upstream:
        "zero-latency mock (scripts/bench/mock-upstream.mjs) in its own Node process on 127.0.0.1; precomputed answers; decides by whether the last message is a tool result",
      load: "autocannon in the driver process, closed loop: N keep-alive connections each sending the next POST when the last answer arrived; latency per response in fractional ms",
      orchestratorVars: { ...orchestratorVars(upstreamBaseUrl), DMXAPI_API_KEY: "(set)", SWITCHBOARD_API_KEYS: "(one key, tenant bench)" },
      conversations:
        "no conversation_id in scenarios 3 and 4: every request starts (and writes) a new conversation in Miniflare's local KV. Its list is a full scan " +
        "of the namespace (SQLite `substr(key, 1, length(prefix)) = prefix`), so the orchestrator's namespace is emptied (bench/workers/kv-admin.mjs) before every run",
    },
    scenarios: scenarios.map(({ key, short, label, prompt, diagnostic = false }) => ({ key, short, label, prompt, diagnostic })),
    results,
    comparisons,
    toolRoundTrip: { definition: toolDefinition, ms: comparisons.find((c) => c.key === "toolRoundTripMs").values },
    kv,
    bundles,
    startup,
    workerLogs,
  };

  // -------------------------------------------------------------------------------------------
  log(
    `\n${"=".repeat(100)}\nLatency (closed loop, ${settings.rounds} interleaved round(s) × ${settings.seconds} s; percentiles pooled over rounds; errors = non-2xx + socket errors + timeouts)\n`,
  );
  log(latencyTable(results, scenarios));
  log(`\n${comparisonTable(comparisons, settings.concurrency)}`);
  log(`\n${toolDefinition}`);
  const bytes = scenarios.map(
    (scenario) => `${scenario.short}: ${Math.round(median(results.filter((r) => r.scenario === scenario.key).map((r) => r.upstreamBytesPerCall)))} B`,
  );
  log(
    `Mean model request body as the mock received it — ${bytes.join(", ")} (the orchestrator offers every discovered server tool on every call; the peer offers one).`,
  );
  log(`\nKV operations per turn on CONVERSATIONS (${kv.method}):\n`);
  log(kvTable(kv));
  log(`\nBundle sizes:\n\n${bundleTable(bundles)}`);
  log(`\nStartup (${startup.method}):\n\n${startupTable(startup)}`);
  const m = report.machine;
  log(
    `\nMachine: ${m.os}; ${m.cpus.count} × ${m.cpus.model}; ${m.memoryGiB} GiB; node ${m.node}; workerd ${m.versions.workerd}; miniflare ${m.versions.miniflare}; ${report.date}`,
  );
  log(`Load average (1 min) at start ${m.loadAverage.atStart[0].toFixed(2)}, at end ${m.loadAverage.atEnd[0].toFixed(2)}`);
  log(`Worker log lines while benchmarking: ${workerLogs.log + workerLogs.info} info, ${workerLogs.warn} warn, ${workerLogs.error} error`);
  for (const line of workerLogs.firstProblems) log(`  ${line}`);

  const resultsDir = path.join(benchDir, "results");
  // Only --save touches the tracked, published results; every other run stays in the ignored tmp/.
  const scratchDir = path.join(resultsDir, "tmp");
  mkdirSync(scratchDir, { recursive: true });
  const svg = renderSvg({
    results,
    scenarios,
    concurrencies: settings.concurrency,
    title: "Switchboard bench: latency per scenario (zero-latency mock model, local workerd)",
    subtitle: `${report.date.slice(0, 19)}Z · ${m.cpus.count} × ${m.cpus.model} · node ${m.node} · ${settings.rounds} round(s) × ${settings.seconds} s${quick ? " · QUICK" : ""}`,
  });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const written = [];
  const name = quick ? "quick" : "latest";
  writeFileSync(path.join(scratchDir, `${name}.json`), json);
  writeFileSync(path.join(scratchDir, `${name}.svg`), svg);
  written.push(`bench/results/tmp/${name}.json`, `bench/results/tmp/${name}.svg`);
  if (cli.values.save) {
    const stamp = report.date.replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
    writeFileSync(path.join(resultsDir, "latest.json"), json);
    writeFileSync(path.join(resultsDir, `${stamp}.json`), json);
    writeFileSync(path.join(resultsDir, "latest.svg"), svg);
    written.push("bench/results/latest.json", `bench/results/${stamp}.json`, "bench/results/latest.svg");
  }
  log(`\nWrote ${written.join(", ")} (total ${((performance.now() - startedAt) / 1000).toFixed(1)} s)`);
}

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
} finally {
  await cleanup();
}
