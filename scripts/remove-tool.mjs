// `npm run remove-tool -- <name>`: undoes `npm run new-tool -- <name>`, or retires any tool: deletes
// tools/<name>/, removes its TOOL_<NAME> service binding from the orchestrator's wrangler.toml at the
// top level and in every [env.*] (checked with wrangler's own parser before writing), and regenerates
// the orchestrator's binding types. The deployed Worker, if any, is left alone: `wrangler delete`
// removes it once the orchestrator without the binding is deployed.
//
//   node scripts/remove-tool.mjs <name> [--root <dir>] [--no-types]

import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { unstable_readConfig } from "wrangler";
import { removeArrayTables } from "./lib/toml-blocks.mjs";
import { listWorkers, root as repositoryRoot } from "./lib/workers.mjs";
import { toolNames } from "./new-tool.mjs";
import { generateTypes } from "./types.mjs";

const USAGE = "Usage: npm run remove-tool -- <name>   (the folder name under tools/, e.g. unit-converter)";

const bindingOf = (body) => /^\s*binding\s*=\s*"([^"]+)"/m.exec(body.join("\n"))?.[1] ?? null;

/** Every service binding of the orchestrator, per environment ("" is the top level). */
function servicesByEnvironment(configPath, environments) {
  return Object.fromEntries(
    ["", ...environments].map((environment) => [
      environment,
      (unstable_readConfig({ config: configPath, env: environment }, { hideWarnings: true }).services ?? []).map((entry) => entry.binding).sort(),
    ]),
  );
}

/**
 * @param {string} input the tool's folder name
 * @param {{ projectRoot?: string, types?: boolean, log?: (line: string) => void }} options
 */
export async function removeTool(input, { projectRoot = repositoryRoot, types = true, log = console.log } = {}) {
  const names = toolNames(input);
  const toolDir = path.join(projectRoot, "tools", names.folder);
  const configPath = path.join(projectRoot, "wrangler.toml");
  const original = readFileSync(configPath, "utf8");
  const { text: patched, removed } = removeArrayTables(
    original,
    (table, body) => (table === "services" || /^env\.[^.]+\.services$/.test(table)) && bindingOf(body) === names.binding,
  );
  if (!existsSync(toolDir) && removed === 0) throw new Error(`there is no tools/${names.folder} and no ${names.binding} binding in wrangler.toml.`);

  if (removed > 0) {
    // Checked with wrangler's parser: the binding is gone everywhere, and nothing else changed.
    const environments = Object.keys(unstable_readConfig({ config: configPath }, { hideWarnings: true }).env ?? {});
    const scratch = path.join(tmpdir(), `switchboard-remove-tool-${process.pid}-${Date.now()}.toml`);
    writeFileSync(scratch, patched);
    try {
      const before = servicesByEnvironment(configPath, environments);
      const after = servicesByEnvironment(scratch, environments);
      for (const environment of Object.keys(before)) {
        const expected = before[environment].filter((binding) => binding !== names.binding);
        if (JSON.stringify(after[environment]) !== JSON.stringify(expected)) {
          throw new Error(
            `removing ${names.binding}${environment ? ` from [env.${environment}]` : ""} would change other bindings; wrangler.toml is unchanged.`,
          );
        }
      }
    } finally {
      rmSync(scratch, { force: true });
    }
    writeFileSync(configPath, patched);
    log(`Removed ${removed} ${names.binding} binding${removed === 1 ? "" : "s"} from wrangler.toml.`);
  }
  if (existsSync(toolDir)) {
    rmSync(toolDir, { recursive: true, force: true });
    log(`Deleted tools/${names.folder}/.`);
  }
  rmSync(path.join(projectRoot, "dist", names.service), { recursive: true, force: true });
  if (types) {
    const results = await generateTypes(
      listWorkers(projectRoot).filter((worker) => worker.folder === null),
      { projectRoot },
    );
    for (const result of results) log(`Types ${result.status}: ${path.relative(projectRoot, result.file)}`);
  }
  return { names, removed };
}

async function main() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { root: { type: "string" }, "no-types": { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
    });
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : error}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length !== 1) {
    console.log(USAGE);
    if (!values.help) process.exitCode = 1;
    return;
  }
  const { names } = await removeTool(positionals[0], { projectRoot: path.resolve(values.root ?? repositoryRoot), types: !values["no-types"] });
  console.log(
    `\nIf ${names.service} was deployed: deploy the orchestrator (npm run deploy -- orchestrator), then \`npx wrangler delete --name ${names.service}\` (and -staging / -production).`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`remove-tool: ${error instanceof Error ? error.message : error}`);
    process.exitCode = 1;
  });
}
