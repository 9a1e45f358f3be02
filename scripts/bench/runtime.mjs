// The bench's Workers runtime, in a process of its own: one Miniflare (one workerd) with every Worker.
// Miniflare receives the Workers' console output in the process that created it; here, that is not the
// load generator's, so reading and counting log lines never competes with sending requests.
//
// Forked by scripts/bench.mjs (see startRuntime below). Messages, parent → child:
//   { type: "start", upstreamBaseUrl }  → { type: "ready", urls: { [worker]: directUrl }, workers, readyMs }
//   { type: "logs" }                    → { type: "logs", logs }   (counts per level, bytes, first problems)
//   { type: "dispose" }                 → disposes Miniflare, exits
// Built bundles are expected in dist/ (the parent builds first).

import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { listWorkers, miniflareWorkers } from "../lib/workers.mjs";
import { benchWorkerOptions } from "./setup.mjs";

/** Starts the runtime process; resolves with the Workers' direct URLs and a handle to talk to it. */
export async function startRuntime(upstreamBaseUrl) {
  const child = fork(fileURLToPath(import.meta.url), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const waiting = [];
  child.on("message", (message) => {
    const index = waiting.findIndex((entry) => entry.type === message.type);
    if (index >= 0) waiting.splice(index, 1)[0].resolve(message);
  });
  child.once("exit", (code) => {
    for (const entry of waiting.splice(0)) entry.reject(new Error(`bench runtime exited (${code})`));
  });
  const ask = (message, replyType = message.type) =>
    new Promise((resolve, reject) => {
      waiting.push({ type: replyType, resolve, reject });
      child.send(message);
    });
  const ready = await ask({ type: "start", upstreamBaseUrl }, "ready");
  if (ready.error) throw new Error(`bench runtime failed to start: ${ready.error}`);
  return {
    child,
    urls: ready.urls,
    workers: ready.workers,
    readyMs: ready.readyMs,
    logs: async () => (await ask({ type: "logs" })).logs,
    dispose: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.send({ type: "dispose" });
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// The child's side.

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send) {
  const logs = { lines: { log: 0, info: 0, warn: 0, error: 0, debug: 0, other: 0 }, bytes: 0, firstProblems: [] };
  const onLog = (entry) => {
    const level = entry.level in logs.lines ? entry.level : "other";
    logs.lines[level]++;
    logs.bytes += String(entry.message).length + 1;
    if ((level === "warn" || level === "error") && logs.firstProblems.length < 10) logs.firstProblems.push(String(entry.message).slice(0, 500));
  };
  let miniflare = null;
  const stop = async () => {
    await miniflare?.dispose().catch(() => undefined);
    process.exit(0);
  };
  process.on("disconnect", stop);
  process.on("SIGTERM", stop);
  process.on("message", async (message) => {
    if (message.type === "start") {
      try {
        const started = performance.now();
        const options = benchWorkerOptions(miniflareWorkers(listWorkers()), message.upstreamBaseUrl);
        miniflare = new Miniflare(convertV4MiniflareOptions({ host: "127.0.0.1", port: 0, handleStructuredLogs: onLog, workers: options }));
        await miniflare.ready;
        const urls = {};
        for (const worker of options.filter((entry) => entry.unsafeDirectSockets)) urls[worker.name] = (await miniflare.unsafeGetDirectURL(worker.name)).href;
        process.send({ type: "ready", urls, workers: options.map((entry) => entry.name), readyMs: performance.now() - started });
      } catch (error) {
        process.send({ type: "ready", error: error instanceof Error ? error.stack : String(error) });
      }
    } else if (message.type === "logs") {
      process.send({ type: "logs", logs });
    } else if (message.type === "dispose") {
      await stop();
    }
  });
}
