// Builds what the bench runs: every project Worker (scripts/lib/workers.mjs, as `npm run build:tools`),
// then the bench's own Workers into dist/bench/ with the same esbuild settings as the project's.

import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { bundleWorkers, distDir, root, workerBundleOptions } from "../lib/workers.mjs";

export const benchDir = path.join(root, "bench");
export const benchWorkersDir = path.join(benchDir, "workers");
export const benchDistDir = path.join(distDir, "bench");

export const BENCH_WORKERS = {
  passthrough: { name: "bench-passthrough", scriptPath: path.join(benchWorkersDir, "passthrough.mjs"), bundled: false },
  kvAdmin: { name: "bench-kv-admin", scriptPath: path.join(benchWorkersDir, "kv-admin.mjs"), bundled: false },
  empty: { name: "bench-empty", scriptPath: path.join(benchWorkersDir, "empty.mjs"), bundled: false },
  peer: {
    name: "bench-ai-sdk-peer",
    entry: path.join(benchWorkersDir, "ai-sdk-peer.ts"),
    scriptPath: path.join(benchDistDir, "ai-sdk-peer.js"),
    bundled: true,
  },
  counting: {
    name: "bench-counting",
    entry: path.join(benchWorkersDir, "counting-entry.mjs"),
    scriptPath: path.join(benchDistDir, "counting.js"),
    bundled: true,
  },
  memoryKv: {
    name: "bench-orchestrator-memory-kv",
    entry: path.join(benchWorkersDir, "memory-kv-entry.mjs"),
    scriptPath: path.join(benchDistDir, "memory-kv.js"),
    bundled: true,
  },
  // Not in the runtime: scripts/bench/checkpoint.mjs starts it alone, with a SQLite Durable Object.
  checkpoint: {
    name: "bench-checkpoint",
    entry: path.join(benchWorkersDir, "checkpoint.ts"),
    scriptPath: path.join(benchDistDir, "checkpoint.js"),
    bundled: true,
  },
};

/** Project Workers first (the counting and memory-KV wrappers import the orchestrator's bundle), then the bench's. */
export async function buildAll() {
  const started = performance.now();
  const workers = await bundleWorkers();
  await Promise.all(
    Object.values(BENCH_WORKERS)
      .filter((worker) => worker.bundled)
      .map((worker) => build({ ...workerBundleOptions, entryPoints: [worker.entry], outfile: worker.scriptPath })),
  );
  return { workers, ms: performance.now() - started };
}

export function bundleSize(file) {
  const bytes = statSync(file).size;
  const gzipBytes = gzipSync(readFileSync(file), { level: 9 }).length;
  return { file: path.relative(root, file), bytes, gzipBytes };
}
