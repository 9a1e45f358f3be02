// `npm run build:tools`: bundles every Worker, and the dev Workers (dev/), to dist/ with
// `wrangler deploy --dry-run`. The integration tests build the same bundles themselves (vitest's
// globalSetup) and `npm start` too; this is for running Miniflare by hand.
import { bundleWorkers, listDevWorkers, listWorkers } from "./lib/workers.mjs";

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log("Usage: npm run build:tools\n\nBundles every Worker (and dev/ Workers) to dist/<name>/ as `wrangler deploy --dry-run` does.");
  process.exit(0);
}
const started = Date.now();
try {
  const workers = await bundleWorkers([...listWorkers(), ...listDevWorkers()]);
  console.log(`Bundled ${workers.length} Workers to dist/ in ${Date.now() - started} ms: ${workers.map((worker) => worker.name).join(", ")}`);
} catch (error) {
  console.error(`build: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}
