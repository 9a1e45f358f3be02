// The project's Workers as scripts see them: the orchestrator (./wrangler.toml) first, then one per
// tools/<name>/wrangler.toml. Each wrangler.toml stays the single source of a Worker's bindings:
// local runs and integration tests derive their Miniflare options from it, and run the very bundle
// `wrangler deploy` would upload (built with `wrangler deploy --dry-run`).

import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";
import { describeCommand, runWrangler } from "./wrangler.mjs";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const distDir = path.join(root, "dist");
/** wrangler's name for the top-level environment of a config; an unset env would follow CLOUDFLARE_ENV. */
const TOP_LEVEL = "";

/**
 * @typedef {{ name: string, configPath: string, main: string, outFile: string, isTool: boolean, folder: string | null, projectRoot: string }} WorkerInfo
 * `folder` is a tool's folder under tools/ (what `npm run deploy -- <folder>` takes); null for the orchestrator.
 */

/**
 * The Workers of the project at `projectRoot` (this repository unless given): the orchestrator first.
 * @param {string} [projectRoot]
 * @returns {WorkerInfo[]}
 */
export function listWorkers(projectRoot = root) {
  const toolsDir = path.join(projectRoot, "tools");
  const toolConfigs = readdirSync(toolsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(path.join(toolsDir, entry.name, "wrangler.toml")))
    .map((entry) => path.join(toolsDir, entry.name, "wrangler.toml"))
    .sort();
  return [path.join(projectRoot, "wrangler.toml"), ...toolConfigs].map((configPath, index) =>
    workerInfo(configPath, projectRoot, { isTool: index > 0, folder: index > 0 ? path.basename(path.dirname(configPath)) : null }),
  );
}

/** Development-only Workers (dev/<name>/wrangler.toml): never deployed, run by `npm start` and the tests. */
export function listDevWorkers(projectRoot = root) {
  const devDir = path.join(projectRoot, "dev");
  if (!existsSync(devDir)) return [];
  return readdirSync(devDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(path.join(devDir, entry.name, "wrangler.toml")))
    .map((entry) => workerInfo(path.join(devDir, entry.name, "wrangler.toml"), projectRoot, { isTool: false, folder: null }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The offline model (dev/offline-model): its Worker, and the DMXAPI_BASE_URL that reaches it when it
 * is the orchestrator's outbound service. It answers its own host and passes other requests through.
 */
export function offlineModel(projectRoot = root) {
  const worker = listDevWorkers(projectRoot).find((candidate) => candidate.name === "switchboard-offline-model");
  if (!worker) throw new Error("dev/offline-model/wrangler.toml is missing");
  const { vars } = unstable_readConfig({ config: worker.configPath, env: TOP_LEVEL }, { hideWarnings: true });
  return { worker, baseUrl: `http://${vars.MODEL_HOST}/v1` };
}

function workerInfo(configPath, projectRoot, { isTool, folder }) {
  // The top level (local and test configuration), even when CLOUDFLARE_ENV names an [env.*].
  const config = unstable_readConfig({ config: configPath, env: TOP_LEVEL }, { hideWarnings: true });
  if (!config.name || !config.main) throw new Error(`${configPath} needs a name and a main`);
  const outDir = path.join(projectRoot, "dist", config.name);
  return {
    name: config.name,
    configPath,
    main: path.resolve(path.dirname(configPath), config.main),
    outDir,
    // wrangler names the bundle after the entry module.
    outFile: path.join(outDir, `${path.basename(config.main).replace(/\.[cm]?[jt]s$/, "")}.js`),
    isTool,
    folder,
    projectRoot,
  };
}

/** esbuild options for the bench's own Workers: what wrangler does for the workerd target. */
export const workerBundleOptions = {
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  external: ["cloudflare:*", "node:*"],
  sourcemap: "linked",
  logLevel: "warning",
};

/**
 * Bundles each Worker to dist/<name>/ with `wrangler deploy --dry-run`: exactly what a deploy uploads,
 * so tests, `npm start`, the bench and the bundle budget all run and measure the deployable bundle.
 * Throws with wrangler's output when one fails.
 */
export async function bundleWorkers(workers = listWorkers()) {
  const failures = (await mapLimit(workers, Math.max(1, Math.min(4, availableParallelism())), bundleWorker)).filter(Boolean);
  if (failures.length > 0) throw new Error(failures.join("\n\n"));
  return workers;
}

async function bundleWorker(worker) {
  rmSync(worker.outDir, { recursive: true, force: true });
  // Absolute --outdir: wrangler resolves a relative one against the config's folder.
  const args = ["deploy", "--dry-run", "--config", path.relative(worker.projectRoot, worker.configPath), "--env=", "--outdir", worker.outDir];
  const { code, output } = await runWrangler(args, { cwd: worker.projectRoot, capture: true });
  if (code !== 0) return `${worker.name}: ${describeCommand(args)} failed (exit ${code}):\n${output.trim()}`;
  if (!existsSync(worker.outFile)) return `${worker.name}: ${describeCommand(args)} wrote no ${path.relative(worker.projectRoot, worker.outFile)}`;
  return null;
}

/** The size of what wrangler would upload from a Worker's bundle folder: every module, no source maps. */
export function bundleSize(worker) {
  const files = readdirSync(worker.outDir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !entry.name.endsWith(".map") && entry.name !== "README.md")
    .map((entry) => readFileSync(path.join(entry.parentPath, entry.name)));
  const all = Buffer.concat(files);
  return { raw: all.byteLength, gzip: gzipSync(all).byteLength, files: files.length };
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

/**
 * Miniflare (v4-shape) options for every Worker, from its wrangler.toml, running its bundle.
 * `overrides[name]` is merged into that Worker's options (bindings are merged, not replaced).
 */
export function miniflareWorkers(workers = listWorkers(), overrides = {}) {
  return workers.map((worker) => {
    const config = unstable_readConfig({ config: worker.configPath, env: TOP_LEVEL }, { hideWarnings: true });
    const { workerOptions } = unstable_getMiniflareWorkerOptions(config, TOP_LEVEL);
    const { modulesRules: _rules, rootPath: _root, email: _email, bindings: _withDevVars, ...options } = workerOptions;
    const extra = overrides[worker.name] ?? {};
    return {
      ...options,
      ...extra,
      name: worker.name,
      modules: true,
      scriptPath: worker.outFile,
      // Module names are relative to this, so a project outside the current directory runs too.
      modulesRoot: worker.projectRoot ?? root,
      // The config's [vars] only: wrangler would add a developer's .dev.vars, which must never reach a
      // test or the bench (npm start reads .dev.vars itself, on purpose).
      bindings: { ...(config.vars ?? {}), ...(extra.bindings ?? {}) },
    };
  });
}
