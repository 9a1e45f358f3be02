// `npm run bench` (issues 7 and 13): what Switchboard adds on top of the platform, beside a gateway users
// pick for the same job (Portkey), locally, against a zero-latency mock model, so the numbers are the
// gateways' own work and nothing else. What runs, how and why: bench/README.md.
//
//   node scripts/bench.mjs            full run: bench/results/tmp/latest.{json,svg} (ignored by git)
//   node scripts/bench.mjs --save     full run that also publishes bench/results/latest.{json,svg} and a dated copy
//   node scripts/bench.mjs --quick    smoke run: bench/results/tmp/quick.{json,svg} (ignored by git)
//   --out=DIR                         write the results to DIR instead (latest.* / quick.*)
//   BENCH_SECONDS  BENCH_ROUNDS  BENCH_WARMUP_SECONDS  BENCH_CONCURRENCY (1,16,64)  BENCH_PAUSE_MS (250)
//   BENCH_STREAM_REQUESTS  BENCH_COST_TURNS  BENCH_STORE_DELAY_MS  BENCH_STARTUP_RUNS  BENCH_STARTUP_COPIES
//
// Processes: this one generates load and does nothing else while measuring; the mock model, the Workers
// runtime (one Miniflare, scripts/bench/runtime.mjs, which also receives the Workers' log lines) and the
// Portkey gateway each run in their own.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { BENCH_WORKERS, benchDir, buildAll, bundleSize } from "./bench/build.mjs";
import { median, percentile, runLoad } from "./bench/load.mjs";
import { PORTKEY_VERSION, portkeyHeaders, startPortkey } from "./bench/portkey.mjs";
import { TEXT_PROMPT, TOOL_PROMPT } from "./bench/prompts.mjs";
import {
  bundleTable,
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
import { mockStats, ORCHESTRATOR, orchestratorVars, requestBody, requestHeaders, startMock } from "./bench/setup.mjs";
import { runStream } from "./bench/stream.mjs";
import { miniflareWorkers, root } from "./lib/workers.mjs";

// ---------------------------------------------------------------------------------------------
// Settings

const USAGE = `Usage: npm run bench [-- --quick] [-- --save] [-- --out=DIR]

  (none)     full run, about 5.5 minutes; results in bench/results/tmp/ (ignored by git)
  --save     full run that also publishes bench/results/latest.{json,svg} and a dated copy
  --quick    smoke run, about 75 s; bench/results/tmp/quick.{json,svg}
  --out=DIR  write the results to DIR instead
Environment: BENCH_SECONDS BENCH_ROUNDS BENCH_WARMUP_SECONDS BENCH_CONCURRENCY BENCH_PAUSE_MS
BENCH_STREAM_REQUESTS BENCH_COST_TURNS BENCH_STORE_DELAY_MS BENCH_STARTUP_RUNS BENCH_STARTUP_COPIES (see bench/README.md).`;
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
const settings = {
  quick,
  seconds: numberFrom("BENCH_SECONDS", quick ? 0.6 : 1.5),
  rounds: Math.round(numberFrom("BENCH_ROUNDS", quick ? 2 : 5)),
  warmupSeconds: numberFrom("BENCH_WARMUP_SECONDS", quick ? 0.6 : 2),
  concurrency: (process.env.BENCH_CONCURRENCY ?? "1,16,64")
    .split(",")
    .map((value) => Number.parseInt(value, 10))
    .filter((value) => value > 0),
  pauseMs: numberFrom("BENCH_PAUSE_MS", 250),
  streamRequests: Math.round(numberFrom("BENCH_STREAM_REQUESTS", quick ? 40 : 150)),
  costTurns: Math.round(numberFrom("BENCH_COST_TURNS", quick ? 5 : 20)),
  storeDelayMs: numberFrom("BENCH_STORE_DELAY_MS", 20),
  startupRuns: Math.round(numberFrom("BENCH_STARTUP_RUNS", quick ? 1 : 3)),
  startupCopies: Math.round(numberFrom("BENCH_STARTUP_COPIES", quick ? 3 : 6)),
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

const statsDelta = (after, before) => Object.fromEntries(Object.keys(after).map((key) => [key, after[key] - (before[key] ?? 0)]));

async function post(url, body, headers) {
  const response = await fetch(url, { method: "POST", headers, body });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, headers: response.headers, text, json };
}

const answerOf = (json) => json?.choices?.[0]?.message?.content;
/** Median over rounds of a per-round value, with its range. */
const spread = (values) => {
  const finite = values.filter(Number.isFinite);
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), rounds: values };
};
const rotate = (list, by) => list.map((_, index) => list[(index + by) % list.length]);

// ---------------------------------------------------------------------------------------------
// Sections

async function sanityCheck(scenarios, mockPort) {
  for (const scenario of scenarios) {
    const before = await mockStats(mockPort);
    const response = await post(scenario.url, scenario.body, scenario.headers);
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
  // Work after the response (waitUntil, the journal's alarm, which writes KV up to 250 ms after a
  // commit) may still be running: wait until the counts have not moved for longer than that.
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

/** Interleaved rounds; each round runs every scenario once per concurrency, in an order that rotates. */
async function measureLatency(scenarios, mockPort, kvAdminUrl) {
  const runs = [];
  const oneRun = async (scenario, concurrency, seconds, round) => {
    // Runs against the orchestrator's local KV start from an empty namespace: Miniflare's local KV lists by
    // scanning the whole namespace, so a run's cost would otherwise depend on how many runs wrote before it.
    let purgedKeys = 0;
    if (scenario.localKv) {
      purgedKeys = (await (await fetch(new URL("/purge", kvAdminUrl), { method: "POST" })).json()).deleted;
      if (purgedKeys > 0) await sleep(settings.pauseMs);
    }
    const before = await mockStats(mockPort);
    const result = await runLoad({ url: scenario.url, body: scenario.body, headers: scenario.headers, connections: concurrency, seconds });
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
      model: delta,
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
    for (const [index, concurrency] of settings.concurrency.entries()) {
      const order = rotate(scenarios, (round - 1 + index) % scenarios.length);
      const line = [];
      for (const scenario of order) {
        const run = await oneRun(scenario, concurrency, settings.seconds, round);
        runs.push(run);
        line.push(`${scenario.short} ${run.medianMs.toFixed(2)}${run.errors ? ` ERR ${run.errors}` : ""}`);
      }
      log(`  c=${String(concurrency).padEnd(3)} ${line.join(" | ")}`);
    }
  }
  return runs;
}

function summarise(runs, scenarios) {
  return scenarios.flatMap((scenario) =>
    settings.concurrency.map((concurrency) => {
      const mine = runs.filter((run) => run.round > 0 && run.scenario === scenario.key && run.concurrency === concurrency);
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
      const model = {};
      for (const run of mine) for (const [key, value] of Object.entries(run.model)) model[key] = (model[key] ?? 0) + value;
      return {
        scenario: scenario.key,
        concurrency,
        saturated: saturated(concurrency),
        // Per-round medians summarised by their median: what comparisons below are made of.
        medianMs: median(mine.map((run) => run.medianMs)),
        // Tail figures over every response of every round.
        p90Ms: percentile(pooled, 90),
        p99Ms: percentile(pooled, 99),
        maxMs: pooled.length ? pooled[pooled.length - 1] : Number.NaN,
        reqPerSec: ok / seconds,
        samples: ok,
        errors: mine.reduce((sum, run) => sum + run.errors, 0),
        timeouts: mine.reduce((sum, run) => sum + run.timeouts, 0),
        statusCodes,
        // What the model received, from the mock's counters: calls per answered request (in-flight ones at a
        // run's end inflate it slightly), bytes per call, and the tool definitions in it.
        modelCallsPerRequest: ok ? model.requests / ok : null,
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
  for (const target of streams) await runStream({ ...target, count: 10, seconds: 2 }); // warm-up
  for (let round = 1; round <= settings.rounds; round++) {
    for (const target of rotate(streams, (round - 1) % streams.length)) {
      if (target.localKv) await fetch(new URL("/purge", kvAdminUrl), { method: "POST" });
      const result = await runStream({ ...target, count: settings.streamRequests, seconds: Math.max(1, settings.seconds) });
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
  return streams.map(({ key, label, short, diagnostic }) => {
    const mine = perRound.filter((row) => row.target === key);
    return {
      key,
      short,
      label,
      diagnostic,
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

  const mock = await startMock();
  started.mock = mock.child;
  const upstreamBaseUrl = mock.baseUrl;
  log(`Mock model on ${upstreamBaseUrl} (pid ${mock.child.pid})`);
  const portkeyStart = performance.now();
  const portkey = await startPortkey();
  started.portkey = portkey.child;
  log(`Portkey gateway ${portkey.version} on ${portkey.url} (pid ${portkey.child.pid}, listening after ${(performance.now() - portkeyStart).toFixed(0)} ms)`);
  const runtime = await startRuntime(upstreamBaseUrl);
  started.runtime = runtime;
  log(`Workers runtime ready in ${runtime.readyMs.toFixed(0)} ms: ${runtime.workers.length} Workers in one workerd (pid ${runtime.child.pid})`);
  const chat = (name) => new URL("/v1/chat/completions", runtime.urls[name]).href;

  const text = { answer: "Hello.", upstream: { requests: 1, text: 1 } };
  const tool = { answer: "2*(3+4) = 14.", upstream: { requests: 2, toolCall: 1, afterTool: 1, toolResultHas14: 1 } };
  const offers = (count) => ({ toolsOffered: text.upstream.requests, toolDefinitions: count });
  const oneTool = { server_tools: ["calculate"] };
  const scenarios = [
    { key: "mock", short: "1", label: "1. mock model (floor)", url: `${upstreamBaseUrl}/chat/completions`, body: requestBody(TEXT_PROMPT), expect: text },
    {
      key: "passthrough",
      short: "2",
      label: "2. pass-through Worker",
      url: runtime.urls[BENCH_WORKERS.passthrough.name],
      body: requestBody(TEXT_PROMPT),
      expect: text,
    },
    {
      key: "portkey",
      short: "3",
      label: `3. Portkey gateway ${portkey.version} (Node)`,
      url: portkey.url,
      headers: portkeyHeaders(upstreamBaseUrl),
      body: requestBody(TEXT_PROMPT),
      expect: text,
    },
    {
      key: "switchboard",
      short: "4",
      label: "4. Switchboard, no tool",
      url: chat(ORCHESTRATOR),
      body: requestBody(TEXT_PROMPT),
      expect: { ...text, upstream: { ...text.upstream, ...offers(4) } },
      localKv: true,
    },
    {
      key: "switchboard-tool",
      short: "5",
      label: "5. Switchboard, one tool round trip",
      url: chat(ORCHESTRATOR),
      body: requestBody(TOOL_PROMPT),
      expect: tool,
      localKv: true,
    },
    {
      key: "pair-no-tool",
      short: "6",
      label: "6. Switchboard, no tool · mem KV, 1 tool offered",
      url: chat(BENCH_WORKERS.memoryKv.name),
      body: requestBody(TEXT_PROMPT, oneTool),
      expect: { ...text, upstream: { ...text.upstream, ...offers(1) } },
    },
    {
      key: "pair-tool",
      short: "7",
      label: "7. Switchboard, one tool · mem KV, 1 tool offered",
      url: chat(BENCH_WORKERS.memoryKv.name),
      body: requestBody(TOOL_PROMPT, oneTool),
      expect: { ...tool, upstream: { ...tool.upstream, toolDefinitions: 2 } },
    },
    {
      key: "ai-sdk",
      short: "8",
      label: "8. AI SDK peer, one tool · mem KV, 1 tool offered",
      url: runtime.urls[BENCH_WORKERS.peer.name],
      body: requestBody(TOOL_PROMPT),
      expect: { ...tool, upstream: { ...tool.upstream, toolDefinitions: 2 } },
    },
    {
      key: "memory-kv",
      short: "d",
      label: "d. Switchboard, no tool · mem KV, 4 tools offered",
      url: chat(BENCH_WORKERS.memoryKv.name),
      body: requestBody(TEXT_PROMPT),
      expect: { ...text, upstream: { ...text.upstream, ...offers(4) } },
      diagnostic: true,
    },
  ].map((scenario) => ({ headers: requestHeaders, localKv: false, diagnostic: false, ...scenario }));

  await sanityCheck(scenarios, mock.port);
  log("Sanity check passed: every scenario answers as expected and makes the model calls it should");

  const streams = [
    { key: "mock", short: "1", label: "1. mock model (floor)", url: `${upstreamBaseUrl}/chat/completions` },
    { key: "passthrough", short: "2", label: "2. pass-through Worker", url: runtime.urls[BENCH_WORKERS.passthrough.name] },
    { key: "switchboard", short: "4", label: "4. Switchboard, no tool", url: chat(ORCHESTRATOR), localKv: true },
    { key: "memory-kv", short: "d", label: "d. Switchboard, no tool, mem KV", url: chat(BENCH_WORKERS.memoryKv.name), diagnostic: true },
  ].map((target) => ({ localKv: false, diagnostic: false, ...target, body: requestBody(TEXT_PROMPT, { stream: true }), headers: requestHeaders }));
  for (const target of streams) {
    const check = await runStream({ ...target, count: 1, seconds: 5 });
    if (check.errors > 0) throw new Error(`Streaming to "${target.label}" does not give content and [DONE]`);
  }

  const costs = await measureCosts(runtime.urls[BENCH_WORKERS.counting.name], mock.port, runtime);
  log(`Counted what a turn costs over ${settings.costTurns} turns per case (${elapsed()})`);

  const logsBefore = await runtime.logs();
  const runs = await measureLatency(scenarios, mock.port, runtime.urls[BENCH_WORKERS.kvAdmin.name]);
  log(`Streaming first content, c=1 (${elapsed()})`);
  const streaming = await measureStreaming(streams, runtime.urls[BENCH_WORKERS.kvAdmin.name]);
  const logsAfter = await runtime.logs();
  const workerLogs = {
    lines: Object.fromEntries(Object.entries(logsAfter.lines).map(([level, count]) => [level, count - logsBefore.lines[level]])),
    bytes: logsAfter.bytes - logsBefore.bytes,
    firstProblems: logsAfter.firstProblems,
  };

  await runtime.dispose();
  started.runtime = null;
  mock.child.kill("SIGTERM");
  started.mock = null;
  portkey.child.kill("SIGTERM");
  started.portkey = null;

  log(`Measuring startup: ${settings.startupRuns} run(s) × ${settings.startupCopies} copies per Worker (${elapsed()})`);
  const startup = await measureStartup(miniflareWorkers(built.workers));

  // -------------------------------------------------------------------------------------------
  const results = summarise(runs, scenarios);
  /** A per-round value at each concurrency (from that round's medians), summarised over the rounds. */
  const perRound = (fn) =>
    Object.fromEntries(
      settings.concurrency.map((concurrency) => {
        const values = [];
        for (let round = 1; round <= settings.rounds; round++) {
          const get = (key) => runs.find((run) => run.round === round && run.concurrency === concurrency && run.scenario === key)?.medianMs ?? Number.NaN;
          values.push(fn(get));
        }
        return [concurrency, spread(values)];
      }),
    );
  const comparison = (key, label, unit, fn) => ({ key, label, unit, values: perRound(fn) });
  const comparisons = [
    comparison("passthroughAddedMs", "2 − 1  pass-through Worker over the mock (platform hop)", "ms", (m) => m("passthrough") - m("mock")),
    comparison("portkeyAddedMs", "3 − 1  Portkey over the mock", "ms", (m) => m("portkey") - m("mock")),
    comparison("switchboardAddedMs", "4 − 1  Switchboard no-tool over the mock", "ms", (m) => m("switchboard") - m("mock")),
    comparison("switchboardOverPortkeyMs", "4 − 3  Switchboard no-tool minus Portkey", "ms", (m) => m("switchboard") - m("portkey")),
    comparison("switchboardToolAddedMs", "5 − 1  Switchboard one-tool over the mock", "ms", (m) => m("switchboard-tool") - m("mock")),
    comparison("toolRoundTripMs", "7 − 6  one tool round trip (matched pair)", "ms", (m) => m("pair-tool") - m("pair-no-tool")),
    comparison("toolRoundTripLocalKvMs", "5 − 4  one tool round trip, local KV (reference)", "ms", (m) => m("switchboard-tool") - m("switchboard")),
    comparison("pairVsAiSdk", "7 ÷ 8  Switchboard one-tool ÷ AI SDK peer (matched)", "x", (m) => m("pair-tool") / m("ai-sdk")),
    comparison("localKvMs", "4 − d  Miniflare's local KV simulator's share", "ms", (m) => m("switchboard") - m("memory-kv")),
    comparison("toolDefinitionsMs", "d − 6  3 more tool definitions offered (mem KV)", "ms", (m) => m("memory-kv") - m("pair-no-tool")),
  ];
  const streamOverMock = (() => {
    const values = [];
    for (let round = 1; round <= settings.rounds; round++) {
      const get = (key) => streaming.find((row) => row.key === key)?.rounds.find((row) => row.round === round)?.firstContentMs ?? Number.NaN;
      values.push(get("switchboard") - get("mock"));
    }
    return spread(values);
  })();

  const valueAt = (key, concurrency) => comparisons.find((entry) => entry.key === key).values[concurrency]?.median ?? Number.NaN;
  const switchboardKeys = scenarios.filter((scenario) => /^(switchboard|pair|memory)/.test(scenario.key)).map((scenario) => scenario.key);
  const errorsAt64 = results.filter((row) => row.concurrency === 64);
  const stores = costs.cases.find((entry) => entry.key === "new");
  const storedPuts = stores?.perTurn["kv:CONVERSATIONS.put"]?.total ?? 0;
  const putsWaited = stores?.perTurn["kv:CONVERSATIONS.put"]?.onAnswerPath ?? 0;
  const commits = stores?.perTurn["do:LEDGER.commitWrite"];
  const targets = [
    {
      key: "noToolVsPortkey",
      label: "Switchboard no-tool added latency ≤ Portkey's (c=1, medians of per-round differences over the mock)",
      pass: valueAt("switchboardAddedMs", 1) <= valueAt("portkeyAddedMs", 1),
      detail: `${valueAt("switchboardAddedMs", 1).toFixed(2)} ms vs ${valueAt("portkeyAddedMs", 1).toFixed(2)} ms; stores the conversation: ${storedPuts} KV put(s) per turn (${putsWaited} waited for), ${commits?.onAnswerPath ?? 0} journal commit(s) waited for`,
      measured: settings.concurrency.includes(1),
    },
    {
      key: "toolRoundTrip",
      label: "one tool round trip ≤ 1 ms added (c=1, matched pair 7 − 6)",
      pass: valueAt("toolRoundTripMs", 1) <= 1,
      detail: `${valueAt("toolRoundTripMs", 1).toFixed(2)} ms (with Miniflare's local KV, 5 − 4: ${valueAt("toolRoundTripLocalKvMs", 1).toFixed(2)} ms)`,
      measured: settings.concurrency.includes(1),
    },
    {
      key: "streamFirstContent",
      label: "streaming first content ≤ 1.5 ms over the mock (c=1)",
      pass: streamOverMock.median <= 1.5,
      detail: `${streamOverMock.median.toFixed(2)} ms (pass-through Worker: ${(streaming.find((row) => row.key === "passthrough").firstContentMs - streaming.find((row) => row.key === "mock").firstContentMs).toFixed(2)} ms)`,
      measured: true,
    },
    {
      key: "zeroErrorsAt64",
      label: "zero errors at c=64 (Switchboard scenarios)",
      pass: errorsAt64.filter((row) => switchboardKeys.includes(row.scenario)).every((row) => row.errors === 0),
      detail: errorsAt64.map((row) => `${scenarios.find((scenario) => scenario.key === row.scenario).short}: ${row.errors}`).join(", "),
      measured: errorsAt64.length > 0,
    },
  ];

  const totalSeconds = (performance.now() - startedAt) / 1000;
  const report = {
    schema: 2,
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
      upstream: "zero-latency mock (scripts/bench/mock-upstream.mjs): precomputed JSON and SSE answers; decides by whether the last message is a tool result",
      portkey: "@portkey-ai/gateway's own start script on Node, x-portkey-provider: openai with x-portkey-custom-host set to the mock",
      load: "closed loop: N keep-alive connections each sending the next POST when the last answer arrived; latency per response in fractional ms",
      order: "warm-up, then rounds; each round runs every scenario once per concurrency, the order rotated by one per round and per concurrency",
      statistics:
        "a scenario's median is the median of its per-round medians; comparisons are computed within each round and summarised by their median over the rounds (range shown); p99 is pooled over rounds",
      saturation: `concurrency ≥ 4 × ${cores} cores is saturation: the closed loop keeps every core busy, latency there is mostly queueing`,
      orchestratorVars: { ...orchestratorVars(upstreamBaseUrl), DMXAPI_API_KEY: "(set)", SWITCHBOARD_API_KEYS: "(one key, tenant bench)" },
      conversations:
        "no conversation_id: every request starts (and writes) a new conversation. Scenarios 4 and 5 use Miniflare's local KV, emptied before every run (its list is a " +
        "full scan of the namespace); 6, 7 and d the same bundle with an in-memory KV; 8 stores its turn in the same in-memory KV",
    },
    scenarios: scenarios.map(({ key, short, label, diagnostic, localKv, body }) => ({ key, short, label, diagnostic, localKv, body: JSON.parse(body) })),
    results,
    comparisons,
    streaming: {
      method: "c=1, node:http, time to the first SSE event with delta content, and to data: [DONE]; medians per round, then over rounds",
      rows: streaming,
      overMockMs: streamOverMock,
    },
    targets,
    costs,
    bundles,
    startup,
    portkey: { version: portkey.version },
    workerLogs,
  };

  // -------------------------------------------------------------------------------------------
  const rule = "=".repeat(110);
  log(`\n${rule}\nSide by side (c=1 unless said; medians of per-round medians; "added" = per-round difference over the mock, median over rounds)\n`);
  log(headlineTable(results, scenarios, settings.concurrency, saturated));
  log(`\n${targetLines(targets)}`);
  log(
    `\nLatency (closed loop, ${settings.rounds} interleaved round(s) × ${settings.seconds} s; p99 pooled over rounds; errors = non-2xx + socket errors + timeouts; * = saturation)\n`,
  );
  log(latencyTable(results, scenarios));
  log(`\nComparisons, per round then median over rounds [min … max]:\n`);
  log(comparisonTable(comparisons, settings.concurrency, saturated));
  log(`\nStreaming, c=1 (${report.streaming.method}):\n`);
  log(streamTable(streaming, streamOverMock));
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

  const resultsDir = outOption ? path.resolve(outOption) : path.join(benchDir, "results", save ? "" : "tmp");
  mkdirSync(resultsDir, { recursive: true });
  const svg = renderSvg({
    results,
    scenarios,
    concurrencies: settings.concurrency,
    saturated,
    title: "Switchboard bench: latency per scenario (zero-latency mock model, local workerd, Portkey on Node)",
    subtitle: `${report.date.slice(0, 19)}Z · ${m.cpus.count} × ${m.cpus.model} · node ${m.node} · ${settings.rounds} round(s) × ${settings.seconds} s${quick ? " · QUICK" : ""}`,
  });
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
