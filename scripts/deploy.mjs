// `npm run deploy`: deploys every tool Worker, then the orchestrator, each with `wrangler deploy`.
//
//   npm run deploy                               every tool, then the orchestrator
//   npm run deploy -- weather [notes ...]        only those tools (folder names under tools/)
//   npm run deploy -- weather orchestrator       those tools, then the orchestrator
//   npm run deploy -- --env staging              the staging Workers ([env.staging] of each wrangler.toml;
//                                                CLOUDFLARE_ENV=staging does the same)
//   npm run deploy -- --dry-run                  bundle to dist/deploy/<worker>/ without uploading (offline)
//
// Tools go first: the orchestrator's service bindings must point at Workers that exist. Naming only
// tools leaves the orchestrator alone: it reads each tool's schema over its binding and caches it for
// TOOL_SCHEMA_TTL_SECONDS (60 by default), so a redeployed tool's new schema is in use within that
// time with no orchestrator deploy. The orchestrator needs deploying only when its own code or
// config changes, e.g. once after `npm run new-tool` added a binding.

import { rmSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { experimental_readRawConfig, unstable_readConfig } from "wrangler";
import { listWorkers, root } from "./lib/workers.mjs";
import { describeCommand, runWrangler } from "./lib/wrangler.mjs";
import { ORCHESTRATOR, selectWorkers } from "./types.mjs";

const USAGE = "Usage: npm run deploy -- [<tool folder> ... | orchestrator] [--env <name>] [--dry-run]";

function fail(message) {
  console.error(`deploy: ${message}`);
  process.exit(1);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: { env: { type: "string", short: "e" }, "dry-run": { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
  });
} catch (error) {
  fail(`${error instanceof Error ? error.message : error}\n${USAGE}`);
}
const { values, positionals } = parsed;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

// Like wrangler, CLOUDFLARE_ENV picks the environment when --env does not; "" is the top level.
const environment = values.env ?? process.env.CLOUDFLARE_ENV ?? "";
const dryRun = values["dry-run"];
const all = listWorkers();
let selected;
try {
  selected = selectWorkers(all, positionals);
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
// Tools in folder order, then the orchestrator, whatever order they were named in.
const workers = [
  ...selected.filter((worker) => worker.isTool).sort((a, b) => a.folder.localeCompare(b.folder)),
  ...selected.filter((worker) => !worker.isTool),
];

// Every Worker must define the environment before any is deployed: half an environment is worse than none.
if (environment) {
  const missing = workers.filter((worker) => !experimental_readRawConfig({ config: worker.configPath }).rawConfig.env?.[environment]);
  if (missing.length > 0) {
    fail(`[env.${environment}] is not defined in ${missing.map((worker) => path.relative(root, worker.configPath)).join(", ")}. Nothing was deployed.`);
  }
}

const targets = workers.map((worker) => {
  const config = unstable_readConfig({ config: worker.configPath, env: environment }, { hideWarnings: true });
  return { ...worker, deployedName: config.name };
});

const what = positionals.length === 0 ? "every Worker" : targets.map((target) => target.folder ?? ORCHESTRATOR).join(", ");
const where = environment ? `environment ${environment}` : "the top-level environment";
console.log(`${dryRun ? "Dry run (bundling only, nothing uploaded)" : "Deploying"}: ${what}, ${where}.`);
if (!targets.some((target) => !target.isTool)) {
  console.log("The orchestrator is not redeployed: it picks up the tools' new schemas within TOOL_SCHEMA_TTL_SECONDS (60 s by default).");
}

const done = [];
for (const [index, target] of targets.entries()) {
  const args = ["deploy", "--config", path.relative(root, target.configPath), `--env=${environment}`];
  if (dryRun) {
    // Absolute: wrangler resolves a relative --outdir against the config's folder for the bundle.
    const outdir = path.join(root, "dist", "deploy", target.deployedName);
    rmSync(outdir, { recursive: true, force: true });
    args.push("--dry-run", "--outdir", outdir);
  }
  console.log(`\n[${index + 1}/${targets.length}] ${target.deployedName}: ${describeCommand(args)}`);
  const { code } = await runWrangler(args, { cwd: root });
  if (code !== 0) {
    const rest = targets.slice(index + 1).map((next) => next.deployedName);
    console.error(`\ndeploy: stopped, \`wrangler deploy\` failed for ${target.deployedName} (exit ${code}).`);
    console.error(`  ${dryRun ? "bundled" : "deployed"}: ${done.length > 0 ? done.join(", ") : "none"}`);
    if (rest.length > 0) console.error(`  not attempted: ${rest.join(", ")}`);
    process.exit(code);
  }
  done.push(target.deployedName);
}
console.log(
  `\n${dryRun ? "Bundled" : "Deployed"} ${done.length} Worker${done.length === 1 ? "" : "s"}: ${done.join(", ")}${dryRun ? " (in dist/deploy/)" : ""}.`,
);
