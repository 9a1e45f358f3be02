// A CPU profile of one Worker under the bench's load: `node scripts/bench/profile.mjs [options]`.
//
//   --worker=NAME   the Worker to profile (default bench-orchestrator-memory-kv: the orchestrator's own
//                   code without Miniflare's KV simulator; "switchboard" for the orchestrator as is)
//   --load=NAME     the Worker the requests go to, when it isn't the profiled one (e.g. profile
//                   switchboard-tool-calculator with --tool while loading the orchestrator)
//   --tool          send the one-tool prompt (default: the no-tool prompt)
//   --stream        send `stream: true` (the streamed turn's path)
//   --c=N           connections (default 8)     --seconds=S   profiled load (default 5)
//
// Same setup as `npm run bench` (one Miniflare, mock upstream on loopback). Attaches to the Worker's
// isolate over workerd's inspector, samples every 100 µs, writes bench/results/tmp/<worker>.cpuprofile
// (open it in Chrome DevTools → Performance, or VS Code) and prints the functions with the most self
// time. With the real local KV, work done by the KV simulator on the same thread can be charged to
// whatever the profiled isolate last ran: profile the in-memory-KV variant for the orchestrator's code.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { SourceMap } from "node:module";
import net from "node:net";
import path from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { miniflareWorkers } from "../lib/workers.mjs";
import { BENCH_WORKERS, benchDir, buildAll } from "./build.mjs";
import { runLoad } from "./load.mjs";
import { TEXT_PROMPT, TOOL_PROMPT } from "./prompts.mjs";
import { benchWorkerOptions, ORCHESTRATOR, requestBody, requestHeaders, startMock } from "./setup.mjs";

const option = (name, fallback) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.split("=")[1] ?? fallback;
const worker = option("worker", BENCH_WORKERS.memoryKv.name);
const loaded = option("load", worker === ORCHESTRATOR || worker.startsWith("bench-") ? worker : BENCH_WORKERS.memoryKv.name);
const connections = Number.parseInt(option("c", "8"), 10);
const seconds = Number.parseFloat(option("seconds", "5"));
const prompt = process.argv.includes("--tool") ? TOOL_PROMPT : TEXT_PROMPT;
const stream = process.argv.includes("--stream");

const freePort = () =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const built = await buildAll();
/** The profiled Worker's bundle, for its source map: a bench Worker's own, or dist/<name>/index.js. */
const bundle =
  Object.values(BENCH_WORKERS).find((entry) => entry.name === worker)?.scriptPath ?? built.workers.find((entry) => entry.name === worker)?.outFile ?? null;
const sourceMap = bundle && existsSync(`${bundle}.map`) ? new SourceMap(JSON.parse(readFileSync(`${bundle}.map`, "utf8"))) : null;
/** Where a profiled frame is in the sources (src/log.ts, node_modules/hono/...), when the map knows. */
const sourceOf = (callFrame) => {
  if (!callFrame.url) return "(runtime)";
  const entry = sourceMap?.findEntry(callFrame.lineNumber, callFrame.columnNumber);
  if (!entry?.originalSource) return path.basename(callFrame.url);
  const source = entry.originalSource.replace(/^(\.\.\/)+/, "");
  const inPackage = source.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  return inPackage ? `node_modules/${inPackage[1]}` : source;
};
const mock = await startMock();
const inspectorPort = await freePort();
const miniflare = new Miniflare(
  convertV4MiniflareOptions({
    host: "127.0.0.1",
    port: 0,
    inspectorPort,
    handleStructuredLogs: () => undefined,
    workers: benchWorkerOptions(miniflareWorkers(built.workers), mock.baseUrl),
  }),
);
try {
  await miniflare.ready;
  const direct = (await miniflare.unsafeGetDirectURL(loaded)).href;
  const isOrchestrator = loaded === ORCHESTRATOR || loaded === BENCH_WORKERS.memoryKv.name || loaded === BENCH_WORKERS.counting.name;
  const url = isOrchestrator ? new URL("/v1/chat/completions", direct).href : direct;

  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json();
  const target = targets.find((entry) => entry.id === `core:user:${worker}`);
  if (!target) throw new Error(`No inspector target for ${worker}: ${targets.map((entry) => entry.id).join(", ")}`);
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", reject, { once: true });
  });
  let nextId = 0;
  const pending = new Map();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    pending.get(message.id)?.(message);
    pending.delete(message.id);
  });
  const send = (method, params = {}) =>
    new Promise((resolve) => {
      const id = ++nextId;
      pending.set(id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });

  const load = (duration) =>
    runLoad({ url, body: requestBody(prompt, stream ? { stream: true } : {}), headers: requestHeaders, connections, seconds: duration });
  await load(2); // warm-up, unprofiled
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 100 });
  await send("Profiler.start");
  const result = await load(seconds);
  const { result: stopped } = await send("Profiler.stop");
  socket.close();

  const profile = stopped.profile;
  // Under results/tmp/, which git ignores: a profile is for looking at, not for committing.
  mkdirSync(path.join(benchDir, "results", "tmp"), { recursive: true });
  const file = path.join(benchDir, "results", "tmp", `${worker}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));

  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfTime = new Map();
  const bySource = new Map();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((sample, index) => {
    const { callFrame } = nodes.get(sample);
    const source = sourceOf(callFrame);
    const entry = callFrame.url ? sourceMap?.findEntry(callFrame.lineNumber, callFrame.columnNumber) : null;
    const where = !callFrame.url
      ? "native"
      : entry?.originalSource
        ? `${source}:${entry.originalLine + 1}`
        : `${path.basename(callFrame.url)}:${callFrame.lineNumber + 1}`;
    const key = `${callFrame.functionName || "(anonymous)"}  ${where}`;
    const delta = profile.timeDeltas[index] ?? 0;
    selfTime.set(key, (selfTime.get(key) ?? 0) + delta);
    if (callFrame.functionName === "(idle)") idle += delta;
    else bySource.set(source, (bySource.get(source) ?? 0) + delta);
    total += delta;
  });
  console.log(
    `${worker}${loaded === worker ? "" : ` (load sent to ${loaded})`}, c=${connections}, ${prompt === TOOL_PROMPT ? "one tool" : "no tool"}${stream ? ", streamed" : ""}: ${result.ok} answers in ${result.seconds} s (${(result.ok / result.seconds).toFixed(0)}/s), ${result.errors + result.non2xx} errors`,
  );
  console.log(`Self time, top 25 of ${(total / 1000).toFixed(0)} ms sampled:`);
  for (const [key, micros] of [...selfTime].sort((left, right) => right[1] - left[1]).slice(0, 25)) {
    console.log(`${(micros / 1000).toFixed(1).padStart(9)} ms ${((100 * micros) / total).toFixed(1).padStart(5)}%  ${key}`);
  }
  // The isolate's busy time per answer, by source file: what a turn costs in this Worker's own thread.
  const busy = total - idle;
  console.log(`\nBusy (not idle) time per answer: ${(busy / result.ok).toFixed(0)} µs; by source file (self time):`);
  for (const [source, micros] of [...bySource].sort((left, right) => right[1] - left[1]).slice(0, 20)) {
    console.log(`${(micros / result.ok).toFixed(0).padStart(7)} µs ${((100 * micros) / busy).toFixed(1).padStart(5)}%  ${source}`);
  }
  console.log(`Wrote ${path.relative(process.cwd(), file)}`);
} finally {
  await miniflare.dispose();
  mock.child.kill("SIGTERM");
}
