// `npm run bundle-check`: bundles every Worker exactly as `wrangler deploy` would, offline
// (`wrangler deploy --dry-run`, into dist/<worker>/: the bundles the tests then run too), and checks
// each one's gzip size against its budget. Exits 1 when a Worker fails to bundle or is over budget.
//
//   node scripts/bundle-check.mjs [--tool-kib <n>] [--orchestrator-kib <n>]
//
// The budgets are not the platform's limit (3 MiB gzip on the Free plan) but what keeps cold starts
// short: every tool is its own isolate, so each byte is parsed once per tool. A tool is the kit, hono
// and zod's core (about 41 KiB gzip minified); the orchestrator about 96 KiB since approvals (+6 KiB)
// and managed keys (+2 KiB) came after durable runs. The orchestrator is one isolate, not one per
// tool, so its budget moved from 96 to 112 KiB with them (its local startup measured ~160-175 ms
// against ~30 ms for a tool); the budgets still fail as soon as a change pulls in something heavy
// (zod's locales through `import { z }`, a dev-only module, an SDK). Sizes are computed as wrangler reports them
// ("Total Upload: ... / gzip: ..."), source maps excluded.

import { parseArgs } from "node:util";
import { bundleSize, bundleWorkers, listWorkers } from "./lib/workers.mjs";

export const BUDGET_KIB = { tool: 48, orchestrator: 112 };
const KIB = 1024;
const USAGE = "Usage: npm run bundle-check [-- --tool-kib <n>] [-- --orchestrator-kib <n>]";

let values;
try {
  ({ values } = parseArgs({ options: { "tool-kib": { type: "string" }, "orchestrator-kib": { type: "string" }, help: { type: "boolean", short: "h" } } }));
} catch (error) {
  console.error(`bundle-check: ${error instanceof Error ? error.message : error}\n${USAGE}`);
  process.exit(1);
}
if (values.help) {
  console.log(
    `${USAGE}\n\nBundles every Worker with \`wrangler deploy --dry-run\` into dist/ and fails when one is over its gzip budget\n(tools ${BUDGET_KIB.tool} KiB, orchestrator ${BUDGET_KIB.orchestrator} KiB).`,
  );
  process.exit(0);
}
const budgets = { tool: kibOption("tool-kib", BUDGET_KIB.tool), orchestrator: kibOption("orchestrator-kib", BUDGET_KIB.orchestrator) };

function kibOption(name, fallback) {
  if (values[name] === undefined) return fallback;
  const value = Number(values[name]);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`bundle-check: --${name} needs a positive number, got ${values[name]}`);
    process.exit(1);
  }
  return value;
}

const workers = listWorkers();
console.log(
  `Bundling ${workers.length} Workers offline (wrangler deploy --dry-run) to dist/; budget ${budgets.tool} KiB gzip per tool, ${budgets.orchestrator} KiB for the orchestrator.\n`,
);
try {
  await bundleWorkers(workers);
} catch (error) {
  console.error(`bundle-check: a Worker failed to bundle.\n\n${error instanceof Error ? error.message : error}`);
  process.exit(1);
}

const kib = (bytes) => `${(bytes / KIB).toFixed(1)} KiB`;
const width = Math.max(...workers.map((worker) => worker.name.length), "Worker".length);
console.log(`${"Worker".padEnd(width)}  ${"raw".padStart(11)}  ${"gzip".padStart(10)}  budget`);
let over = 0;
for (const worker of workers) {
  const size = bundleSize(worker);
  const budgetKib = worker.isTool ? budgets.tool : budgets.orchestrator;
  const share = size.gzip / (budgetKib * KIB);
  if (share > 1) over++;
  const verdict = `${Math.round(share * 100)}% of ${budgetKib} KiB${share > 1 ? "  OVER BUDGET" : ""}`;
  console.log(`${worker.name.padEnd(width)}  ${kib(size.raw).padStart(11)}  ${kib(size.gzip).padStart(10)}  ${verdict}`);
}
if (over > 0) {
  console.error(
    `\nbundle-check: ${over} Worker${over === 1 ? " is" : "s are"} over budget. Look for a heavy import (\`import { z } from "zod"\` pulls in every locale; use \`import * as z from "zod"\`).`,
  );
  process.exit(1);
}
console.log("\nEvery Worker bundles and is within its budget.");
