// Bundles every Worker to dist/ (integration tests and `npm start` run these bundles in Miniflare).
import { bundleWorkers } from "./lib/workers.mjs";

const started = Date.now();
const workers = await bundleWorkers();
console.log(`Bundled ${workers.length} Workers to dist/ in ${Date.now() - started} ms: ${workers.map((worker) => worker.name).join(", ")}`);
