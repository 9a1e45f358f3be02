// The per-step checkpoint cost: what a run pays after every model call and every tool call for
// `writeCheckpoint` (src/runs/host.ts), timed inside a SQLite Durable Object by
// bench/workers/checkpoint.ts, beside a floor (one INSERT OR REPLACE of the same JSON). The Worker
// runs alone in a Miniflare of its own, started here once the latency runtime is gone, so nothing
// else of the bench runs beside it.

import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { BENCH_WORKERS } from "./build.mjs";
import { percentile } from "./load.mjs";
import { spread } from "./targets.mjs";

export const CHECKPOINT_METHOD =
  "inside a SQLite Durable Object (bench/workers/checkpoint.ts) with the run engine's tables and a runs row: batches of back-to-back writeCheckpoint() calls " +
  "(one transaction: the checkpoint JSON through putParts plus the runs row's UPDATE), each timed whole and divided (performance.now() moves in whole ms " +
  "in workerd), alternating with batches of the floor, one INSERT OR REPLACE of the same JSON text into a one-row table; a batch is lengthened to ≥ 40 ms; " +
  "the commit after each batch (storage.sync()) is not timed. µs per write: mean over all batches, p50/p90 over the batches' means; ÷ floor per batch pair";

/** Per-write µs of one kind: mean over every write, p50 and p90 over the batches' own means. */
function perWrite({ writes, batchMs }) {
  const perBatch = batchMs.map((ms) => (ms * 1000) / writes);
  const sorted = Float64Array.from(perBatch).sort();
  return {
    writesPerBatch: writes,
    batches: batchMs.length,
    meanUs: (batchMs.reduce((sum, ms) => sum + ms, 0) * 1000) / (writes * batchMs.length),
    p50Us: percentile(sorted, 50),
    p90Us: percentile(sorted, 90),
    batchUs: perBatch,
  };
}

function summariseCase({ key, label, bytes, checkpoint, floor }) {
  const checkpointUs = perWrite(checkpoint);
  const floorUs = perWrite(floor);
  return {
    key,
    label,
    bytes,
    checkpoint: checkpointUs,
    floor: floorUs,
    // Batch by batch (they alternate), checkpoint ÷ floor, summarised over the batches.
    overFloor: spread(checkpointUs.batchUs.map((us, index) => us / floorUs.batchUs[index])),
  };
}

/** Starts the checkpoint Worker alone, asks it for the batches, summarises them. */
export async function measureCheckpoints(compatibilityDate, writes, batches) {
  const worker = {
    name: BENCH_WORKERS.checkpoint.name,
    modules: true,
    scriptPath: BENCH_WORKERS.checkpoint.scriptPath,
    compatibilityDate,
    // What the project's new_sqlite_classes migration gives its homes: a SQLite-backed Durable Object.
    durableObjects: { CHECKPOINTS: { className: "CheckpointBench", useSQLite: true } },
  };
  const problems = [];
  const instance = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      handleStructuredLogs: (entry) => (entry.level === "error" ? problems.push(String(entry.message).slice(0, 500)) : undefined),
      workers: [worker],
    }),
  );
  try {
    const response = await instance.dispatchFetch(`http://bench/?writes=${writes}&batches=${batches}`);
    const text = await response.text();
    if (response.status !== 200) throw new Error(`The checkpoint bench Worker answered ${response.status}: ${text.slice(0, 500)} ${problems.join(" ")}`);
    const raw = JSON.parse(text);
    return {
      method: CHECKPOINT_METHOD,
      timerResolutionMs: raw.timerResolutionMs,
      writes: raw.writes,
      batches: raw.batches,
      cases: raw.cases.map(summariseCase),
    };
  } finally {
    await instance.dispose();
  }
}
