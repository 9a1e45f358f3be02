// `npm run bench` (issues 7, 13 and 21): what Switchboard adds on top of the platform, beside a gateway users
// pick for the same job (Portkey), locally, against a zero-latency mock model, so the numbers are the
// gateways' own work and nothing else; and the same added time beside a realistic model (a 200 ms answer),
// turns on a warm conversation and `store: false` turns. What runs, how and why: bench/README.md.
//
//   node scripts/bench.mjs            full run: bench/results/tmp/latest.{json,svg} (ignored by git)
//   node scripts/bench.mjs --save     full run that also publishes bench/results/latest.{json,svg} and a dated copy
//   node scripts/bench.mjs --quick    smoke run: bench/results/tmp/quick.{json,svg} (ignored by git)
//   --out=DIR                         write the results to DIR instead (latest.* / quick.*)
//   BENCH_SECONDS  BENCH_ROUNDS  BENCH_WARMUP_SECONDS  BENCH_CONCURRENCY (1,16,64)  BENCH_PAUSE_MS (250)
//   BENCH_STREAM_REQUESTS  BENCH_COST_TURNS  BENCH_STORE_DELAY_MS  BENCH_STARTUP_RUNS  BENCH_STARTUP_COPIES
//   BENCH_MODEL_ANSWER_MS (200)  BENCH_MODEL_FIRST_CONTENT_MS (150)  BENCH_REALISTIC_SECONDS  BENCH_REALISTIC_CONCURRENCY
//   BENCH_CONVERSATION_TURNS (20)  BENCH_BACKGROUND_REQUESTS  BENCH_CHECKPOINT_WRITES (2000)  BENCH_CHECKPOINT_BATCHES
//
// Processes: this one generates load and does nothing else while measuring; the mock model, the Workers
// runtime (one Miniflare, scripts/bench/runtime.mjs, which also receives the Workers' log lines) and the
// Portkey gateway each run in their own.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { backgroundTargets, checkBackground, measureBackground } from "./bench/background.mjs";
import { BENCH_WORKERS, benchDir, buildAll, bundleSize } from "./bench/build.mjs";
import { measureCheckpoints } from "./bench/checkpoint.mjs";
import { conversationLoad } from "./bench/conversation.mjs";
import { median, percentile, runLoad } from "./bench/load.mjs";
import { PORTKEY_VERSION, startPortkey } from "./bench/portkey.mjs";
import { TEXT_PROMPT, TOOL_PROMPT } from "./bench/prompts.mjs";
import {
  backgroundTable,
  bundleTable,
  checkpointTable,
  comparisonTable,
  costTable,
  headlineTable,
  latencyTable,
  modelRequestTable,
  renderSvg,
  startupTable,
  streamTable,
  targetLines,
} from "./bench/report.mjs";
import { startRuntime } from "./bench/runtime.mjs";
import { checkScenarios, checkStreams, latencyScenarios, post, statsDelta, streamTargets } from "./bench/scenarios.mjs";
import { managedKey, mockStats, ORCHESTRATOR, orchestratorVars, requestBody, requestHeaders, startMock } from "./bench/setup.mjs";
import { runStream } from "./bench/stream.mjs";
import { comparisonsOf, streamOver, targetsOf } from "./bench/targets.mjs";
import { miniflareWorkers, root } from "./lib/workers.mjs";

// ---------------------------------------------------------------------------------------------
// Settings

const USAGE = `Usage: npm run bench [-- --quick] [-- --save] [-- --out=DIR]

  (none)     full run, about 9 minutes; results in bench/results/tmp/ (ignored by git)
  --save     full run that also publishes bench/results/latest.{json,svg} and a dated copy
  --quick    smoke run, about 1.5-2.2 minutes; bench/results/tmp/quick.{json,svg}
  --out=DIR  write the results to DIR instead
Environment: BENCH_SECONDS BENCH_ROUNDS BENCH_WARMUP_SECONDS BENCH_CONCURRENCY BENCH_PAUSE_MS
BENCH_STREAM_REQUESTS BENCH_COST_TURNS BENCH_STORE_DELAY_MS BENCH_STARTUP_RUNS BENCH_STARTUP_COPIES
BENCH_MODEL_ANSWER_MS BENCH_MODEL_FIRST_CONTENT_MS BENCH_REALISTIC_SECONDS BENCH_REALISTIC_CONCURRENCY
BENCH_CONVERSATION_TURNS BENCH_BACKGROUND_REQUESTS BENCH_CHECKPOINT_WRITES BENCH_CHECKPOINT_BATCHES (see bench/README.md).`;
if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log(USAGE);
  process.exit(0);
}
const quick = process.argv.includes("--quick");
const outOption = process.argv.find((arg) => arg.startsWith("--out="))?.slice("--out=".length);
// Only --save touches the tracked, published results.
const save = process.argv.includes("--save") && !quick;
const numberFrom = (name, fallback) => {
  const value = Number.parseFloat(process.env[name] ?? "");
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const listFrom = (name, fallback) =>
  (process.env[name] ?? fallback)
    .split(",")
    .map((value) => Number.parseInt(value, 10))
    .filter((value) => value > 0);
const concurrency = listFrom("BENCH_CONCURRENCY", "1,16,64");
// The realistic model's runs, at some of the same concurrencies (the tables have a column per concurrency).
const realisticConcurrency = listFrom("BENCH_REALISTIC_CONCURRENCY", quick ? "1" : "1,16").filter((value) => concurrency.includes(value));
const settings = {
  quick,
  seconds: numberFrom("BENCH_SECONDS", quick ? 0.6 : 1.5),
  rounds: Math.round(numberFrom("BENCH_ROUNDS", quick ? 2 : 5)),
  warmupSeconds: numberFrom("BENCH_WARMUP_SECONDS", quick ? 0.6 : 2),
  concurrency,
  pauseMs: numberFrom("BENCH_PAUSE_MS", 250),
  streamRequests: Math.round(numberFrom("BENCH_STREAM_REQUESTS", quick ? 40 : 150)),
  costTurns: Math.round(numberFrom("BENCH_COST_TURNS", quick ? 5 : 20)),
  storeDelayMs: numberFrom("BENCH_STORE_DELAY_MS", 20),
  startupRuns: Math.round(numberFrom("BENCH_STARTUP_RUNS", quick ? 1 : 3)),
  startupCopies: Math.round(numberFrom("BENCH_STARTUP_COPIES", quick ? 3 : 6)),
  // The realistic model: how long it holds an answer, and a stream's first content.
  modelAnswerMs: numberFrom("BENCH_MODEL_ANSWER_MS", 200),
  modelFirstContentMs: numberFrom("BENCH_MODEL_FIRST_CONTENT_MS", 150),
  // At 200 ms an answer, c=1 gets 5 samples a second: its runs are longer than the zero-latency ones.
  realisticSeconds: numberFrom("BENCH_REALISTIC_SECONDS", quick ? 1.2 : 2),
  realisticConcurrency: realisticConcurrency.length > 0 ? realisticConcurrency : concurrency.slice(0, 1),
  // Timed turns per warm conversation before its connection starts another (scripts/bench/conversation.mjs).
  conversationTurns: Math.round(numberFrom("BENCH_CONVERSATION_TURNS", 20)),
  // Background create beside first content (scripts/bench/background.mjs): pairs per round and orchestrator.
  backgroundPairs: Math.round(numberFrom("BENCH_BACKGROUND_REQUESTS", quick ? 10 : 20)),
  // The per-step checkpoint cost (scripts/bench/checkpoint.mjs): writes per batch (at least), batches.
  checkpointWrites: Math.round(numberFrom("BENCH_CHECKPOINT_WRITES", 2000)),
  checkpointBatches: Math.round(numberFrom("BENCH_CHECKPOINT_BATCHES", quick ? 5 : 9)),
};
const cores = os.availableParallelism?.() ?? os.cpus().length;
/** Closed-loop concurrency well past the cores: the load generator, the runtime and the mock queue for CPU. */
const saturated = (concurrency) => concurrency >= 4 * cores;

const startedAt = performance.now();
const loadAverageAtStart = os.loadavg();
const log = (message) => console.log(message);
const elapsed = () => `${((performance.now() - startedAt) / 1000).toFixed(1)} s`;

// ---------------------------------------------------------------------------------------------
// Processes we start, and stop on the way out (only these, by handle).

const started = { mock: null, runtime: null, portkey: null };
async function cleanup() {
  const { mock, runtime, portkey } = started;
  started.mock = started.runtime = started.portkey = null;
  await runtime?.dispose().catch(() => undefined);
  for (const child of [mock, portkey]) if (child && child.exitCode === null) child.kill("SIGTERM");
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers

const rotate = (list, by) => list.map((_, index) => list[(index + by) % list.length]);

// ---------------------------------------------------------------------------------------------
// Sections

async function settleCounts(countsUrl) {
  // Work after the response (waitUntil: a released lease, a stream's commit) may still be running:
  // wait until the counts have not moved for a while.
  let last = "";
  let stableSince = performance.now();
  for (let attempt = 0; attempt < 100; attempt++) {
    const text = await (await fetch(countsUrl)).text();
    if (text !== last) {
      last = text;
      stableSince = performance.now();
    } else if (performance.now() - stableSince > 600) {
      return JSON.parse(text);
    }
    await sleep(60);
  }
  return JSON.parse(last);
}

/**
 * What a turn asks of the platform, per kind of turn, through the counting wrapper: KV, Durable Object,
 * service-binding and fetch calls (and which of them the answer waited for), model calls and the tool
 * definitions they carried (the mock's counters), and the Workers' log lines (the runtime's counters).
 */
async function measureCosts(countingUrl, mockPort, runtime) {
  const chatUrl = new URL("/v1/chat/completions", countingUrl).href;
  const countsUrl = new URL("/__counts", countingUrl).href;
  const turns = settings.costTurns;
  const turn = async (body, extraHeaders = {}) => {
    const begin = performance.now();
    const response = await post(chatUrl, body, { ...requestHeaders, ...extraHeaders });
    if (response.status !== 200) throw new Error(`Cost-counting turn failed: ${response.status} ${response.text.slice(0, 300)}`);
    return { ms: performance.now() - begin, conversationId: response.headers.get("X-Conversation-Id") };
  };
  // One turn of each kind first, uncounted: tool discovery happens once per isolate, not per turn.
  await turn(requestBody(TEXT_PROMPT));
  await turn(requestBody(TOOL_PROMPT));

  const cases = [];
  async function measure(key, label, run) {
    await settleCounts(countsUrl);
    await fetch(new URL(`/__counts/reset?delay=${settings.storeDelayMs}`, countingUrl), { method: "POST" });
    const mockBefore = await mockStats(mockPort);
    const logsBefore = await runtime.logs();
    const times = [];
    for (let index = 0; index < turns; index++) times.push(await run(index));
    const counts = await settleCounts(countsUrl);
    await fetch(new URL("/__counts/reset?delay=0", countingUrl), { method: "POST" });
    const model = statsDelta(await mockStats(mockPort), mockBefore);
    const logsAfter = await runtime.logs();
    const lines = Object.values(logsAfter.lines).reduce((a, b) => a + b, 0) - Object.values(logsBefore.lines).reduce((a, b) => a + b, 0);
    const perTurn = Object.fromEntries(
      Object.entries(counts).map(([name, { total, onAnswerPath }]) => [name, { total: total / turns, onAnswerPath: onAnswerPath / turns }]),
    );
    cases.push({
      key,
      label,
      turns,
      perTurn,
      modelCallsPerTurn: model.requests / turns,
      toolsPerModelCall: model.requests ? model.toolDefinitions / model.requests : 0,
      toolDefinitionBytesPerModelCall: model.requests ? model.toolDefinitionBytes / model.requests : 0,
      requestBytesPerModelCall: model.requests ? model.bytesIn / model.requests : 0,
      logLinesPerTurn: lines / turns,
      logBytesPerTurn: (logsAfter.bytes - logsBefore.bytes) / turns,
      medianTurnMs: median(times),
    });
  }

  const text = requestBody(TEXT_PROMPT);
  const tool = requestBody(TOOL_PROMPT);
  await measure("new", "new conversation, no tool", async () => (await turn(text)).ms);
  const { conversationId } = await turn(text);
  await measure("continued", "continued conversation, no tool", async () => (await turn(text, { "X-Conversation-Id": conversationId })).ms);
  await measure("tool", "new conversation, one tool", async () => (await turn(tool)).ms);
  await measure(
    "tool-one-offered",
    'one tool, server_tools: ["calculate"]',
    async () => (await turn(requestBody(TOOL_PROMPT, { server_tools: ["calculate"] }))).ms,
  );
  await measure("store-false", "no tool, store: false", async () => (await turn(requestBody(TEXT_PROMPT, { store: false }))).ms);
  const run = Date.now().toString(36);
  await measure("idempotency", "no tool, new Idempotency-Key", async (index) => (await turn(text, { "Idempotency-Key": `bench-${run}-${index}` })).ms);
  await measure("idempotency-replay", "Idempotency-Key replayed", async (index) => (await turn(text, { "Idempotency-Key": `bench-${run}-${index}` })).ms);
  return {
    method:
      "bench/workers/counting-entry.mjs wraps the orchestrator's bundle and counts, inside its isolate, calls on env.CONVERSATIONS (KV), env.LEDGER " +
      "(Durable Object stub calls), TOOL_*/MCP_* service bindings and fetch. Every KV and Durable Object call is delayed by storeDelayMs (a stand-in " +
      "for its production round trip); a call that settled before the handler's response is on the answer path. Model calls and tool definitions " +
      "come from the mock's counters, log lines from the runtime process. One uncounted turn of each kind first (tool discovery is once per isolate).",
    storeDelayMs: settings.storeDelayMs,
    cases,
  };
}

/**
 * Interleaved rounds; each round runs every scenario once per concurrency it runs at (its own list: the
 * realistic model's are fewer), in an order that rotates.
 */
async function measureLatency(scenarios, mockPort, kvAdminUrl) {
  const runs = [];
  // Pauses let the work a run leaves behind settle before the next run; warm-up runs (round 0) are not
  // measured, so only the last of them is followed by one (which keeps --quick short).
  const settleAfter = (scenario) => sleep(scenario.realistic ? Math.max(settings.pauseMs, settings.modelAnswerMs + 50) : settings.pauseMs);
  const oneRun = async (scenario, concurrency, seconds, round) => {
    // Runs against the orchestrator's local KV start from an empty namespace: Miniflare's local KV lists by
    // scanning the whole namespace, so a run's cost would otherwise depend on how many runs wrote before it.
    let purgedKeys = 0;
    if (scenario.localKv) {
      purgedKeys = (await (await fetch(new URL("/purge", kvAdminUrl), { method: "POST" })).json()).deleted;
      if (purgedKeys > 0 && round > 0) await sleep(settings.pauseMs);
    }
    const before = await mockStats(mockPort);
    // A warm conversation's load is built per run: every run creates its own conversations.
    const load = scenario.conversationTurns ? conversationLoad({ prompt: TEXT_PROMPT, turns: scenario.conversationTurns }) : {};
    const result = await runLoad({ url: scenario.url, body: scenario.body, headers: scenario.headers, connections: concurrency, seconds, ...load });
    const delta = statsDelta(await mockStats(mockPort), before);
    // Requests in flight when a run ends still reach their gateway, whose turn goes on without the client:
    // with the realistic model they finish one model answer later, which must be before the next run.
    if (round > 0) await settleAfter(scenario);
    const sorted = Float64Array.from(result.latencies).sort();
    return {
      scenario: scenario.key,
      concurrency,
      round,
      seconds: result.seconds,
      sorted,
      ok: result.ok,
      untimed: result.untimed,
      errors: result.errors + result.non2xx,
      timeouts: result.timeouts,
      statusCodes: result.statusCodes,
      medianMs: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      reqPerSec: result.ok / result.seconds,
      model: delta,
      purgedKeys,
    };
  };

  log(`\nWarm-up: ${settings.warmupSeconds} s per scenario, split over the concurrencies it runs at`);
  for (const scenario of scenarios) {
    for (const concurrency of scenario.concurrency) {
      const run = await oneRun(scenario, concurrency, settings.warmupSeconds / scenario.concurrency.length, 0);
      if (run.errors > 0) log(`  warm-up ${scenario.short} c=${concurrency}: ${run.errors} errors ${JSON.stringify(run.statusCodes)}`);
    }
  }
  await settleAfter({ realistic: scenarios.some((scenario) => scenario.realistic) });

  for (let round = 1; round <= settings.rounds; round++) {
    log(`Round ${round}/${settings.rounds} (${elapsed()})`);
    for (const [index, concurrency] of settings.concurrency.entries()) {
      const here = scenarios.filter((scenario) => scenario.concurrency.includes(concurrency));
      const order = rotate(here, (round - 1 + index) % here.length);
      const line = [];
      for (const scenario of order) {
        const run = await oneRun(scenario, concurrency, scenario.seconds, round);
        runs.push(run);
        const busy = run.statusCodes["409"] ? ` (409: ${run.statusCodes["409"]})` : "";
        line.push(`${scenario.short} ${run.medianMs.toFixed(2)}${run.errors ? ` ERR ${run.errors}${busy}` : ""}`);
      }
      log(`  c=${String(concurrency).padEnd(3)} ${line.join(" | ")}`);
    }
  }
  return runs;
}

function summarise(runs, scenarios) {
  return scenarios.flatMap((scenario) =>
    scenario.concurrency.map((concurrency) => {
      const mine = runs.filter((run) => run.round > 0 && run.scenario === scenario.key && run.concurrency === concurrency);
      const pooled = new Float64Array(mine.reduce((sum, run) => sum + run.sorted.length, 0));
      let offset = 0;
      for (const run of mine) {
        pooled.set(run.sorted, offset);
        offset += run.sorted.length;
      }
      pooled.sort();
      const ok = mine.reduce((sum, run) => sum + run.ok, 0);
      // Responses to setup requests (a warm conversation's creation): served, not timed.
      const untimed = mine.reduce((sum, run) => sum + run.untimed, 0);
      const seconds = mine.reduce((sum, run) => sum + run.seconds, 0);
      const statusCodes = {};
      for (const run of mine) for (const [code, count] of Object.entries(run.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + count;
      const model = {};
      for (const run of mine) for (const [key, value] of Object.entries(run.model)) model[key] = (model[key] ?? 0) + value;
      return {
        scenario: scenario.key,
        concurrency,
        // With the realistic model a connection sends 5 requests a second: c=16 is not saturation there.
        saturated: !scenario.realistic && saturated(concurrency),
        // Per-round medians summarised by their median: what comparisons below are made of.
        medianMs: median(mine.map((run) => run.medianMs)),
        // Tail figures over every response of every round.
        p90Ms: percentile(pooled, 90),
        p99Ms: percentile(pooled, 99),
        maxMs: pooled.length ? pooled[pooled.length - 1] : Number.NaN,
        reqPerSec: ok / seconds,
        samples: ok,
        untimed,
        errors: mine.reduce((sum, run) => sum + run.errors, 0),
        timeouts: mine.reduce((sum, run) => sum + run.timeouts, 0),
        statusCodes,
        // What the model received, from the mock's counters: calls per answered request (in-flight ones at a
        // run's end inflate it, up to one per connection and run: visible with the realistic model's few
        // requests), bytes and messages per call, and the tool definitions in it.
        modelCallsPerRequest: ok ? model.requests / (ok + untimed) : null,
        messagesPerModelCall: model.requests ? model.messages / model.requests : null,
        requestBytesPerModelCall: model.requests ? model.bytesIn / model.requests : null,
        toolsPerModelCall: model.requests ? model.toolDefinitions / model.requests : null,
        toolDefinitionBytesPerModelCall: model.requests ? model.toolDefinitionBytes / model.requests : null,
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

/** Streaming, concurrency 1: first content and [DONE], interleaved rounds in rotating order. */
async function measureStreaming(streams, kvAdminUrl) {
  const perRound = [];
  for (const target of streams) await runStream({ ...target, count: target.warmupCount, seconds: 2 }); // warm-up
  for (let round = 1; round <= settings.rounds; round++) {
    for (const target of rotate(streams, (round - 1) % streams.length)) {
      if (target.localKv) await fetch(new URL("/purge", kvAdminUrl), { method: "POST" });
      const result = await runStream({ ...target, count: settings.streamRequests });
      perRound.push({
        target: target.key,
        round,
        samples: result.firstContent.length,
        errors: result.errors,
        firstContentMs: median(result.firstContent),
        doneMs: median(result.done),
      });
      await sleep(settings.pauseMs);
    }
  }
  return streams.map(({ key, label, short, diagnostic, realistic }) => {
    const mine = perRound.filter((row) => row.target === key);
    return {
      key,
      short,
      label,
      diagnostic,
      realistic,
      firstContentMs: median(mine.map((row) => row.firstContentMs)),
      doneMs: median(mine.map((row) => row.doneMs)),
      samples: mine.reduce((sum, row) => sum + row.samples, 0),
      errors: mine.reduce((sum, row) => sum + row.errors, 0),
      rounds: mine,
    };
  });
}

/**
 * Startup: wall time of `new Miniflare(...).ready` with `copies` copies of one Worker, minus the same with
 * copies of a one-line Worker, divided by `copies`: what loading and evaluating that bundle costs, with
 * starting workerd itself taken out. Interleaved like the latency rounds.
 */
async function measureStartup(projectWorkers) {
  const strip = ({ serviceBindings: _services, unsafeDirectSockets: _sockets, queueConsumers: _consumers, ...options }) => options;
  const compatibilityDate = projectWorkers[0].compatibilityDate;
  const bench = (worker) => ({ name: worker.name, modules: true, scriptPath: worker.scriptPath, compatibilityDate });
  const candidates = [
    { worker: BENCH_WORKERS.empty.name, options: bench(BENCH_WORKERS.empty) },
    // Alone, without the Workers their service bindings name: nothing is called at startup anyway.
    ...projectWorkers.map((worker) => ({ worker: worker.name, options: strip(worker) })),
    { worker: BENCH_WORKERS.passthrough.name, options: bench(BENCH_WORKERS.passthrough) },
    { worker: BENCH_WORKERS.peer.name, options: bench(BENCH_WORKERS.peer) },
  ];
  const rows = candidates.map((candidate) => ({ ...candidate, runsMs: [] }));
  const start = async (row) => {
    const workers = Array.from({ length: settings.startupCopies }, (_, index) => ({ ...row.options, name: `${row.options.name}-${index}` }));
    const begin = performance.now();
    const instance = new Miniflare(convertV4MiniflareOptions({ host: "127.0.0.1", port: 0, handleStructuredLogs: () => undefined, workers }));
    await instance.ready;
    const ms = performance.now() - begin;
    await instance.dispose();
    return ms;
  };
  // One pass uncounted (the first workerd start of a run pays for cold file caches), then passes in which
  // every Worker is compared with the empty Worker started in the same pass.
  for (const row of rows) await start(row);
  for (let run = 0; run < settings.startupRuns; run++) for (const row of rows) row.runsMs.push(await start(row));
  const [empty] = rows;
  const perWorker = (row) => median(row.runsMs.map((ms, pass) => (ms - empty.runsMs[pass]) / settings.startupCopies));
  // What starting workerd itself varies by, per copy: a difference smaller than this is not a measurement.
  const noiseMs = (Math.max(...empty.runsMs) - Math.min(...empty.runsMs)) / settings.startupCopies;
  return {
    noiseMs: settings.startupRuns > 1 ? noiseMs : null,
    method: `wall time of \`new Miniflare(...).ready\` with ${settings.startupCopies} copies of the Worker, minus the same with copies of a one-line Worker in the same pass, ÷ ${settings.startupCopies}; median of ${settings.startupRuns} pass(es) after an uncounted one`,
    baseline: BENCH_WORKERS.empty.name,
    copies: settings.startupCopies,
    workers: rows.map((row) => ({ worker: row.worker, runsMs: row.runsMs, medianMs: median(row.runsMs), perWorkerMs: perWorker(row) })),
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
    availableParallelism: cores,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    // 1/5/15-minute load averages when the bench started and ended: other work on a shared machine.
    loadAverage: { atStart: loadAverageAtStart, atEnd: os.loadavg() },
    node: process.version,
    versions: {
      miniflare: version("miniflare"),
      workerd: version("workerd"),
      "@portkey-ai/gateway": PORTKEY_VERSION,
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
  log(
    `Switchboard bench${quick ? " (--quick)" : ""}: ${settings.rounds} round(s) × ${settings.seconds} s per scenario × c=${settings.concurrency.join(",")}, on ${cores} cores`,
  );

  const built = await buildAll();
  log(`Built ${built.workers.length} project Workers and the bench Workers in ${built.ms.toFixed(0)} ms`);
  const bundles = [
    ...built.workers.map((worker) => ({ worker: worker.name, ...bundleSize(worker.outFile) })),
    { worker: BENCH_WORKERS.passthrough.name, ...bundleSize(BENCH_WORKERS.passthrough.scriptPath) },
    { worker: BENCH_WORKERS.peer.name, ...bundleSize(BENCH_WORKERS.peer.scriptPath) },
  ];

  const mock = await startMock({ answerMs: settings.modelAnswerMs, firstContentMs: settings.modelFirstContentMs });
  started.mock = mock.child;
  const upstreamBaseUrl = mock.baseUrl;
  log(`Mock model on ${upstreamBaseUrl}, realistic model on ${mock.realisticBaseUrl} (pid ${mock.child.pid})`);
  const portkeyStart = performance.now();
  const portkey = await startPortkey();
  started.portkey = portkey.child;
  log(`Portkey gateway ${portkey.version} on ${portkey.url} (pid ${portkey.child.pid}, listening after ${(performance.now() - portkeyStart).toFixed(0)} ms)`);
  const runtime = await startRuntime(upstreamBaseUrl);
  started.runtime = runtime;
  log(`Workers runtime ready in ${runtime.readyMs.toFixed(0)} ms: ${runtime.workers.length} Workers in one workerd (pid ${runtime.child.pid})`);

  const where = { mock, urls: runtime.urls, portkey, settings, managedKey: await managedKey(runtime.urls[ORCHESTRATOR]) };
  const scenarios = latencyScenarios(where);
  await checkScenarios(scenarios, mock.port);
  const streams = streamTargets(where);
  await checkStreams(streams);
  const backgrounds = backgroundTargets(where);
  await checkBackground(backgrounds);
  log("Sanity check passed: every scenario answers as expected and makes the model calls it should");

  const costs = await measureCosts(runtime.urls[BENCH_WORKERS.counting.name], mock.port, runtime);
  log(`Counted what a turn costs over ${settings.costTurns} turns per case (${elapsed()})`);

  const logsBefore = await runtime.logs();
  const kvAdminUrl = runtime.urls[BENCH_WORKERS.kvAdmin.name];
  const runs = await measureLatency(scenarios, mock.port, kvAdminUrl);
  log(`Streaming first content, c=1 (${elapsed()})`);
  const streaming = await measureStreaming(streams, kvAdminUrl);
  const logsAfter = await runtime.logs();
  const workerLogs = {
    lines: Object.fromEntries(Object.entries(logsAfter.lines).map(([level, count]) => [level, count - logsBefore.lines[level]])),
    bytes: logsAfter.bytes - logsBefore.bytes,
    firstProblems: logsAfter.firstProblems,
  };
  log(`Background create beside streamed first content, c=1 (${elapsed()})`);
  const background = await measureBackground(backgrounds, { rounds: settings.rounds, pairs: settings.backgroundPairs, kvAdminUrl, streaming });

  await runtime.dispose();
  started.runtime = null;
  mock.child.kill("SIGTERM");
  started.mock = null;
  portkey.child.kill("SIGTERM");
  started.portkey = null;

  log(`Measuring startup: ${settings.startupRuns} run(s) × ${settings.startupCopies} copies per Worker (${elapsed()})`);
  const projectWorkers = miniflareWorkers(built.workers);
  const startup = await measureStartup(projectWorkers);
  log(`Measuring the per-step checkpoint cost (${elapsed()})`);
  const checkpoints = await measureCheckpoints(projectWorkers[0].compatibilityDate, settings.checkpointWrites, settings.checkpointBatches);

  // -------------------------------------------------------------------------------------------
  const results = summarise(runs, scenarios);
  const comparisons = comparisonsOf(runs, settings);
  const streamOverMock = streamOver(streaming, settings.rounds, "switchboard", "mock");
  const realisticStreamOverMock = streamOver(streaming, settings.rounds, "switchboard-realistic", "mock-realistic");
  const targets = targetsOf({ comparisons, results, scenarios, streaming, streamOverMock, costs, concurrencies: settings.concurrency });

  const totalSeconds = (performance.now() - startedAt) / 1000;
  const report = {
    // 3: realistic-model, store: false and warm-conversation scenarios; per-scenario concurrency and seconds.
    schema: 3,
    date: date.toISOString(),
    quick,
    totalSeconds,
    machine: machine(),
    settings,
    setup: {
      processes:
        "load generator (this process: autocannon, node:http for streams); mock model (its own Node process); Workers runtime (one Miniflare, one workerd, " +
        "in its own Node process that also receives the Workers' log lines); Portkey gateway (its own Node process)",
      routing:
        "each Worker under test has its own loopback socket (Miniflare unsafeDirectSockets): no Miniflare entry Worker in the path; tool Workers are reachable only over service bindings",
      upstream:
        "mock model (scripts/bench/mock-upstream.mjs): precomputed JSON and SSE answers; decides by whether the last message is a tool result. Zero latency, " +
        `except under /realistic/ (scenarios r*): a JSON answer held ${settings.modelAnswerMs} ms after the request's body arrived, a stream's role event at once and its content after ${settings.modelFirstContentMs} ms`,
      portkey: "@portkey-ai/gateway's own start script on Node, x-portkey-provider: openai with x-portkey-custom-host set to the mock",
      load: "closed loop: N keep-alive connections each sending the next POST when the last answer arrived; latency per response in fractional ms",
      order:
        "warm-up, then rounds; each round runs every scenario once per concurrency it runs at (realistic-model scenarios: realisticConcurrency, for realisticSeconds), " +
        "the order rotated by one per round and per concurrency",
      statistics:
        "a scenario's median is the median of its per-round medians; comparisons are computed within each round and summarised by their median over the rounds (range shown); p99 is pooled over rounds",
      saturation: `concurrency ≥ 4 × ${cores} cores is saturation: the closed loop keeps every core busy, latency there is mostly queueing`,
      orchestratorVars: { ...orchestratorVars(upstreamBaseUrl), DMXAPI_API_KEY: "(set)", SWITCHBOARD_API_KEYS: "(one key, tenant bench)" },
      conversations:
        "no conversation_id: every request starts (and writes) a new conversation, except 10 (warm conversation): each connection creates a conversation with an " +
        `untimed request, then sends ${settings.conversationTurns} timed turns naming it (one user message each), then creates the next. 9 and r9 send store: false. ` +
        "Scenarios 4, 5, 9, 10, r4 and r9 use Miniflare's local KV, emptied before every run (its list is a full scan of the namespace); 6, 7 and d the same bundle " +
        "with an in-memory KV; 8 stores its turn in the same in-memory KV. r4 and r9 run a copy of the orchestrator (same bundle and bindings) whose model URL is the realistic one",
    },
    scenarios: scenarios.map(({ key, short, label, diagnostic, localKv, realistic, baseline, concurrency, seconds, conversationTurns, body }) => ({
      key,
      short,
      label,
      diagnostic,
      localKv,
      realistic,
      baseline: baseline ?? null,
      concurrency,
      seconds,
      conversationTurns: conversationTurns ?? null,
      body: JSON.parse(body),
    })),
    results,
    comparisons,
    streaming: {
      method: "c=1, node:http, time to the first SSE event with delta content, and to data: [DONE]; medians per round, then over rounds",
      rows: streaming,
      overMockMs: streamOverMock,
      realisticOverMockMs: realisticStreamOverMock,
    },
    background,
    targets,
    costs,
    checkpoints,
    bundles,
    startup,
    portkey: { version: portkey.version },
    workerLogs,
  };

  // -------------------------------------------------------------------------------------------
  const rule = "=".repeat(110);
  log(
    `\n${rule}\nSide by side (c=1 unless said; medians of per-round medians; "added" = per-round difference over the mock, median over rounds;\nr* = realistic model, added over r1)\n`,
  );
  log(headlineTable(results, scenarios, settings.concurrency, saturated));
  log(`\n${targetLines(targets)}`);
  log(
    `\nLatency (closed loop, ${settings.rounds} interleaved round(s) × ${settings.seconds} s, r*: × ${settings.realisticSeconds} s; p99 pooled over rounds; errors = non-2xx (409 included) + socket errors + timeouts; * = saturation)\n`,
  );
  log(latencyTable(results, scenarios));
  log(`\nComparisons, per round then median over rounds [min … max]:\n`);
  log(comparisonTable(comparisons, settings.concurrency, saturated));
  log(`\nStreaming, c=1 (${report.streaming.method}):\n`);
  log(
    streamTable(streaming, [
      { label: "Switchboard's (4) first content over the mock's", value: streamOverMock },
      { label: "Switchboard's (r4) first content over the realistic mock's (r1)", value: realisticStreamOverMock },
    ]),
  );
  log(`\nBackground create beside first content (${background.method}):\n\n${backgroundTable(background)}`);
  log(`\nWhat the model was sent per call (the mock's counters, c=1 runs; tokens ≈ bytes / 4):\n`);
  log(
    modelRequestTable(
      results.filter((row) => row.concurrency === settings.concurrency[0]),
      scenarios,
    ),
  );
  log(
    `\nWhat a turn costs in production terms, per turn (total, and in parentheses the calls the answer waited for;\n${settings.storeDelayMs} ms injected per KV / Durable Object call):\n`,
  );
  log(costTable(costs));
  log(`\nPer-step checkpoint cost (${checkpoints.method}):\n\n${checkpointTable(checkpoints)}`);
  log(`\nBundle sizes:\n\n${bundleTable(bundles)}`);
  log(`\nStartup (${startup.method}):\n\n${startupTable(startup)}`);
  const m = report.machine;
  log(
    `\nMachine: ${m.os}; ${m.cpus.count} × ${m.cpus.model}; ${m.memoryGiB} GiB; node ${m.node}; workerd ${m.versions.workerd}; miniflare ${m.versions.miniflare}; Portkey ${portkey.version}; ${report.date}`,
  );
  log(`Load average (1 min) at start ${m.loadAverage.atStart[0].toFixed(2)}, at end ${m.loadAverage.atEnd[0].toFixed(2)}`);
  log(
    `Worker log lines while measuring latency (counted in the runtime process): ${workerLogs.lines.log + workerLogs.lines.info} info, ${workerLogs.lines.warn} warn, ${workerLogs.lines.error} error`,
  );
  for (const line of workerLogs.firstProblems) log(`  ${line}`);

  writeResults(
    report,
    renderSvg({
      results,
      scenarios,
      concurrencies: settings.concurrency,
      saturated,
      title: `Switchboard bench: latency per scenario with a zero-latency mock model, and added over a ${settings.modelAnswerMs} ms model (local workerd, Portkey on Node)`,
      subtitle: `${report.date.slice(0, 19)}Z · ${m.cpus.count} × ${m.cpus.model} · node ${m.node} · ${settings.rounds} round(s) × ${settings.seconds} s (realistic model: × ${settings.realisticSeconds} s)${quick ? " · QUICK" : ""}`,
    }),
  );
}

/** bench/results/tmp/ (--out=DIR, or with --save the published bench/results/): the JSON report and the SVG chart. */
function writeResults(report, svg) {
  const resultsDir = outOption ? path.resolve(outOption) : path.join(benchDir, "results", save ? "" : "tmp");
  mkdirSync(resultsDir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const base = quick ? "quick" : "latest";
  const written = [`${base}.json`, `${base}.svg`];
  writeFileSync(path.join(resultsDir, `${base}.json`), json);
  writeFileSync(path.join(resultsDir, `${base}.svg`), svg);
  if (save) {
    const stamp = report.date.replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
    writeFileSync(path.join(resultsDir, `${stamp}.json`), json);
    written.push(`${stamp}.json`);
  }
  log(
    `\nWrote ${written.map((file) => path.relative(root, path.join(resultsDir, file))).join(", ")} (total ${((performance.now() - startedAt) / 1000).toFixed(1)} s)`,
  );
}

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
} finally {
  await cleanup();
}
