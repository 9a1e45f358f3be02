// `npm run bundle-check`: bundles every Worker exactly as `wrangler deploy` would, offline
// (`wrangler deploy --dry-run --outdir dist/bundles/<worker>`), and checks each bundle's gzip size
// against a budget. Exits 1 when a Worker fails to bundle or is over budget.
//
//   node scripts/bundle-check.mjs [--budget-kib <n>]
//
// The budget, 512 KiB gzip per Worker, is what the platform measures (the compressed upload: at most
// 3 MiB on the Workers Free plan, 10 MiB on Paid) with room to spare: today's bundles are 140-180 KiB,
// so it leaves about 3x for growth and still fails early, far below the Free limit, when a change
// pulls a heavy dependency into a Worker (a tool should stay about the kit, hono and zod). The gzip
// size is computed as wrangler reports it ("Total Upload: ... / gzip: ...").

import { readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { listWorkers, root } from "./lib/workers.mjs";
import { describeCommand, runWrangler } from "./lib/wrangler.mjs";

export const BUDGET_KIB = 512;
const KIB = 1024;

const { values } = parseArgs({ options: { "budget-kib": { type: "string" } } });
const budgetKib = values["budget-kib"] === undefined ? BUDGET_KIB : Number(values["budget-kib"]);
if (!Number.isFinite(budgetKib) || budgetKib <= 0) {
  console.error(`bundle-check: --budget-kib needs a positive number, got ${values["budget-kib"]}`);
  process.exit(1);
}

/** The modules wrangler would upload from `outdir`: everything but source maps and its README. */
function bundleSize(outdir) {
  const files = readdirSync(outdir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !entry.name.endsWith(".map") && entry.name !== "README.md")
    .map((entry) => readFileSync(path.join(entry.parentPath, entry.name)));
  const all = Buffer.concat(files);
  return { raw: all.byteLength, gzip: gzipSync(all).byteLength, files: files.length };
}

async function bundle(worker) {
  // Absolute: wrangler resolves a relative --outdir against the config's folder for the bundle.
  const outdir = path.join(root, "dist", "bundles", worker.name);
  rmSync(outdir, { recursive: true, force: true });
  const args = ["deploy", "--dry-run", "--config", path.relative(root, worker.configPath), "--env=", "--outdir", outdir];
  const started = Date.now();
  const { code, output } = await runWrangler(args, { cwd: root, capture: true });
  if (code !== 0) return { worker, error: `${describeCommand(args)} failed (exit ${code}):\n${output.trim()}` };
  return { worker, ms: Date.now() - started, ...bundleSize(outdir) };
}

/** Runs `task` over `items`, at most `limit` at a time, keeping their order. */
async function mapLimit(items, limit, task) {
  const results = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]);
    }
  });
  await Promise.all(lanes);
  return results;
}

const workers = listWorkers();
console.log(`Bundling ${workers.length} Workers offline (wrangler deploy --dry-run) to dist/bundles/; budget ${budgetKib} KiB gzip each.\n`);
const results = await mapLimit(workers, Math.max(1, Math.min(4, availableParallelism())), bundle);

const kib = (bytes) => `${(bytes / KIB).toFixed(1)} KiB`;
const width = Math.max(...workers.map((worker) => worker.name.length), "Worker".length);
console.log(`${"Worker".padEnd(width)}  ${"raw".padStart(11)}  ${"gzip".padStart(10)}  budget`);
let failed = 0;
for (const result of results) {
  if (result.error) {
    failed++;
    console.log(`${result.worker.name.padEnd(width)}  FAILED TO BUNDLE`);
    continue;
  }
  const share = result.gzip / (budgetKib * KIB);
  const over = share > 1;
  if (over) failed++;
  const verdict = `${Math.round(share * 100)}% of ${budgetKib} KiB${over ? "  OVER BUDGET" : ""}`;
  console.log(`${result.worker.name.padEnd(width)}  ${kib(result.raw).padStart(11)}  ${kib(result.gzip).padStart(10)}  ${verdict}`);
}
for (const result of results.filter((entry) => entry.error)) console.error(`\n${result.error}`);
if (failed > 0) {
  console.error(`\nbundle-check: ${failed} Worker${failed === 1 ? "" : "s"} failed to bundle or went over the ${budgetKib} KiB gzip budget.`);
  process.exit(1);
}
console.log(`\nEvery Worker bundles and is within ${budgetKib} KiB gzip.`);
