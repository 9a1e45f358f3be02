// The project's Workers as scripts see them: the orchestrator (./wrangler.toml) first, then one per
// tools/<name>/wrangler.toml. Each wrangler.toml stays the single source of a Worker's bindings:
// local runs and integration tests derive their Miniflare options from it.

import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";

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
  return [path.join(projectRoot, "wrangler.toml"), ...toolConfigs].map((configPath, index) => {
    // The top level (local and test configuration), even when CLOUDFLARE_ENV names an [env.*].
    const config = unstable_readConfig({ config: configPath, env: TOP_LEVEL }, { hideWarnings: true });
    if (!config.name || !config.main) throw new Error(`${configPath} needs a name and a main`);
    return {
      name: config.name,
      configPath,
      main: path.resolve(path.dirname(configPath), config.main),
      outFile: path.join(projectRoot, "dist", config.name, "index.js"),
      isTool: index > 0,
      folder: index > 0 ? path.basename(path.dirname(configPath)) : null,
      projectRoot,
    };
  });
}

/** How a Worker is bundled: what wrangler does for the workerd target. */
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

/** Bundles every Worker to dist/<name>/index.js, as wrangler would, in one esbuild pass each. */
export async function bundleWorkers(workers = listWorkers()) {
  await Promise.all(workers.map((worker) => build({ ...workerBundleOptions, entryPoints: [worker.main], outfile: worker.outFile })));
  return workers;
}

/**
 * Miniflare (v4-shape) options for every Worker, from its wrangler.toml, running its bundle.
 * `overrides[name]` is merged into that Worker's options (bindings are merged, not replaced).
 */
export function miniflareWorkers(workers = listWorkers(), overrides = {}) {
  return workers.map((worker) => {
    const { workerOptions } = unstable_getMiniflareWorkerOptions(worker.configPath, TOP_LEVEL);
    const { modulesRules: _rules, rootPath: _root, email: _email, ...options } = workerOptions;
    const extra = overrides[worker.name] ?? {};
    return {
      ...options,
      ...extra,
      name: worker.name,
      modules: true,
      scriptPath: worker.outFile,
      // Module names are relative to this, so a project outside the current directory runs too.
      modulesRoot: worker.projectRoot ?? root,
      bindings: { ...(options.bindings ?? {}), ...(extra.bindings ?? {}) },
    };
  });
}
