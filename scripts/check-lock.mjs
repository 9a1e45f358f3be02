// `npm run check-lock` (part of `npm test`): package-lock.json must list every platform's optional
// binaries (biome, workerd, esbuild ship one package per OS and CPU), or `npm ci` refuses the lock on
// a fresh clone ("Missing: @biomejs/cli-darwin-arm64 from lock file"). npm leaves them out when it
// rewrites the lock from an existing node_modules of one platform; this catches that before CI does.

import { readFileSync } from "node:fs";
import path from "node:path";
import { root } from "./lib/workers.mjs";

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log("Usage: npm run check-lock\n\nFails when package-lock.json lacks an optional dependency some package declares (npm ci would refuse it).");
  process.exit(0);
}

const lock = JSON.parse(readFileSync(path.join(root, "package-lock.json"), "utf8"));
const packages = lock.packages ?? {};

/** Where npm would resolve `name` from the package at `location`: its own node_modules, then each parent's. */
function resolves(location, name) {
  let base = location;
  while (true) {
    if (`${base ? `${base}/` : ""}node_modules/${name}` in packages) return true;
    if (!base) return false;
    const parent = base.lastIndexOf("/node_modules/");
    base = parent < 0 ? "" : base.slice(0, parent);
  }
}

const missing = [];
for (const [location, entry] of Object.entries(packages)) {
  for (const name of Object.keys(entry.optionalDependencies ?? {})) {
    if (!resolves(location, name)) missing.push(`${name} (optional dependency of ${location || "the project"})`);
  }
}
if (missing.length > 0) {
  console.error(`package-lock.json lacks ${missing.length} optional package${missing.length === 1 ? "" : "s"}, so \`npm ci\` would refuse it:`);
  for (const line of missing) console.error(`  ${line}`);
  console.error("Fix: in a fresh clone (no node_modules), run `npm install --package-lock-only` and commit package-lock.json.");
  process.exit(1);
}
console.log(`package-lock.json lists every optional package (${Object.keys(packages).length - 1} packages).`);
