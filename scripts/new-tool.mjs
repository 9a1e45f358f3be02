// `npm run new-tool -- <name>`: scaffolds a tool Worker in tools/<name>/ (wrangler.toml, and from
// tools/_template/: index.ts with the declaration, <name>.ts with the logic, a passing <name>.test.ts)
// and binds it in the orchestrator's wrangler.toml, at the top level and in every [env.*], so the
// orchestrator discovers it with no code change. Then regenerates the Worker types (`npm run types`)
// of the new tool and of the orchestrator. `npm run remove-tool -- <name>` undoes all of it.
//
//   node scripts/new-tool.mjs <name> [--root <dir>] [--no-types]
//
// <name> is the folder name, kebab- or snake-case (`unit-converter`, `unit_converter`); the tool's
// function name is its snake_case form (`unit_converter`), its binding TOOL_UNIT_CONVERTER, its Worker
// switchboard-tool-unit-converter (with -staging / -production per environment).

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { experimental_readRawConfig, unstable_readConfig } from "wrangler";
import { addArrayTable } from "./lib/toml-blocks.mjs";
import { listWorkers, root as repositoryRoot } from "./lib/workers.mjs";
import { generateTypes, interfaceName, ORCHESTRATOR } from "./types.mjs";

const NAME = /^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$/;
/** "switchboard-tool-" + name + "-production" must stay within a Worker name's 63 characters. */
const MAX_NAME_LENGTH = 32;
const SERVICE_PREFIX = "switchboard-tool-";

/** Every name a tool folder implies. Throws with a clear message when `input` cannot be one. */
export function toolNames(input) {
  if (!NAME.test(input)) {
    throw new Error(
      `"${input}" is not a valid tool name: use lowercase letters, digits and single - or _ between words, starting with a letter (e.g. unit-converter).`,
    );
  }
  if (input.length > MAX_NAME_LENGTH) throw new Error(`"${input}" is too long: at most ${MAX_NAME_LENGTH} characters.`);
  if (input === ORCHESTRATOR) throw new Error(`"${ORCHESTRATOR}" is reserved: it names the orchestrator in npm run deploy and npm run types.`);
  const snake = input.replaceAll("-", "_");
  const kebab = input.replaceAll("_", "-");
  const camel = snake.replace(/_([a-z0-9])/g, (_match, letter) => letter.toUpperCase());
  return {
    folder: input,
    /** The function name the model calls. */
    tool: snake,
    binding: `TOOL_${snake.toUpperCase()}`,
    service: `${SERVICE_PREFIX}${kebab}`,
    variable: `${camel}Tool`,
    envType: `${camel[0].toUpperCase()}${camel.slice(1)}Env`,
    bindingsType: interfaceName({ folder: input }),
  };
}

/** The function names existing tools declare (`name: "..."` in their sources), by folder. */
function declaredToolNames(toolsDir) {
  const names = new Map();
  for (const folder of readdirSync(toolsDir, { withFileTypes: true })) {
    if (!folder.isDirectory() || folder.name === TEMPLATE_FOLDER) continue;
    for (const file of readdirSync(path.join(toolsDir, folder.name))) {
      if (!file.endsWith(".ts") || file.endsWith(".d.ts") || file.endsWith(".test.ts")) continue;
      const source = readFileSync(path.join(toolsDir, folder.name, file), "utf8");
      for (const match of source.matchAll(/defineTool\(\{\s*name:\s*"([^"]+)"/g)) names.set(match[1], folder.name);
    }
  }
  return names;
}

/** The orchestrator's service bindings and service names, at the top level and in every environment. */
function boundServices(rawConfig) {
  const scopes = [rawConfig, ...Object.values(rawConfig.env ?? {})];
  const services = scopes.flatMap((scope) => scope.services ?? []);
  return { bindings: new Set(services.map((entry) => entry.binding)), services: new Set(services.map((entry) => entry.service)) };
}

function toolConfig(names, compatibilityDate, environments) {
  const lines = [
    `# The ${names.tool} tool Worker (scaffolded by \`npm run new-tool\`). The orchestrator binds it as ${names.binding}.`,
    `name = "${names.service}"`,
    'main = "index.ts"',
    `compatibility_date = "${compatibilityDate}"`,
    "# Minified, with source maps uploaded: tools stay within the bundle budget (npm run bundle-check).",
    "minify = true",
    "upload_source_maps = true",
    "# Not public: only the orchestrator calls this Worker, over a service binding.",
    "workers_dev = false",
    "preview_urls = false",
    "",
    "# Bindings this tool needs ([vars], [[kv_namespaces]], ...) go here; `npm run types` then types them in",
    "# ./worker-configuration.d.ts. Environments inherit none of them: repeat each under every [env.*].",
  ];
  for (const environment of environments) {
    lines.push("", `[env.${environment}]`, `name = "${names.service}-${environment}"`);
  }
  return `${lines.join("\n")}\n`;
}

/** The scaffold: tools/_template/, a real tool that typechecks and whose test runs with the others. */
const TEMPLATE_FOLDER = "_template";
const TEMPLATE = "tool-template";

/** The template's files for a new tool: its names in place of the template's, the template notes dropped. */
function fromTemplate(names, projectRoot) {
  const templateDir = path.join(projectRoot, "tools", TEMPLATE_FOLDER);
  const substitutions = [
    [/TOOL_TOOL_TEMPLATE/g, names.binding],
    [/ToolTemplateBindings/g, names.bindingsType],
    [/ToolTemplateEnv/g, names.envType],
    [/toolTemplateTool/g, names.variable],
    [/tool_template/g, names.tool],
    [/tool-template/g, names.folder],
  ];
  const render = (text) =>
    substitutions.reduce(
      (result, [pattern, replacement]) => result.replace(pattern, replacement),
      text
        .split("\n")
        .filter((line) => !line.startsWith("// @template"))
        .join("\n"),
    );
  const files = {};
  for (const file of readdirSync(templateDir)) {
    const target = file.replace(TEMPLATE, names.folder);
    files[target] = render(readFileSync(path.join(templateDir, file), "utf8"));
  }
  return files;
}

/**
 * Scaffolds the tool and binds it. Returns what it did, for the caller to report.
 * @param {string} input the folder name
 * @param {{ projectRoot?: string, types?: boolean, log?: (line: string) => void }} options
 */
export async function newTool(input, { projectRoot = repositoryRoot, types = true, log = console.log } = {}) {
  const names = toolNames(input);
  const toolsDir = path.join(projectRoot, "tools");
  const toolDir = path.join(toolsDir, names.folder);
  const configPath = path.join(projectRoot, "wrangler.toml");

  // Refuse anything that would collide, before writing a byte.
  if (existsSync(toolDir)) throw new Error(`tools/${names.folder} already exists.`);
  const sameWorker = readdirSync(toolsDir).find((folder) => folder.replaceAll("_", "-") === names.folder.replaceAll("_", "-"));
  if (sameWorker) throw new Error(`tools/${sameWorker} already exists and would get the same binding (${names.binding}).`);
  const { rawConfig } = experimental_readRawConfig({ config: configPath });
  const bound = boundServices(rawConfig);
  if (bound.bindings.has(names.binding)) throw new Error(`wrangler.toml already has a ${names.binding} binding.`);
  const environments = Object.keys(rawConfig.env ?? {});
  const services = [names.service, ...environments.map((environment) => `${names.service}-${environment}`)];
  const takenService = services.find((service) => bound.services.has(service));
  if (takenService) throw new Error(`wrangler.toml already binds a service named ${takenService}.`);
  const owner = declaredToolNames(toolsDir).get(names.tool);
  if (owner) throw new Error(`tools/${owner} already declares a tool named "${names.tool}"; the model could not tell them apart.`);

  // The orchestrator's new config, checked with wrangler's own parser before anything is written.
  const original = readFileSync(configPath, "utf8");
  let patched = addArrayTable(original, "services", [`binding = "${names.binding}"`, `service = "${names.service}"`]);
  for (const environment of environments) {
    patched = addArrayTable(
      patched,
      `env.${environment}.services`,
      [`binding = "${names.binding}"`, `service = "${names.service}-${environment}"`],
      environment,
    );
  }
  verifyPatchedConfig(patched, names, environments);

  const compatibilityDate = rawConfig.compatibility_date ?? new Date().toISOString().slice(0, 10);
  mkdirSync(toolDir, { recursive: true });
  const files = { "wrangler.toml": toolConfig(names, compatibilityDate, environments), ...fromTemplate(names, projectRoot) };
  for (const [file, content] of Object.entries(files)) writeFileSync(path.join(toolDir, file), content);
  writeFileSync(configPath, patched);
  log(`Created tools/${names.folder}/: ${Object.keys(files).join(", ")}`);
  log(
    `Bound it in wrangler.toml: ${names.binding} → ${names.service}${environments.map((environment) => `, [env.${environment}] → ${names.service}-${environment}`).join("")}`,
  );

  if (types) {
    const workers = listWorkers(projectRoot).filter((worker) => worker.folder === null || worker.folder === names.folder);
    const results = await generateTypes(workers, { projectRoot });
    for (const result of results) log(`Types ${result.status}: ${path.relative(projectRoot, result.file)}`);
  }
  return { names, toolDir, environments };
}

function verifyPatchedConfig(text, names, environments) {
  const scratch = path.join(tmpdir(), `switchboard-new-tool-${process.pid}-${Date.now()}.toml`);
  writeFileSync(scratch, text);
  try {
    for (const environment of [undefined, ...environments]) {
      const config = unstable_readConfig({ config: scratch, env: environment }, { hideWarnings: true });
      const expected = environment ? `${names.service}-${environment}` : names.service;
      const found = config.services?.filter((entry) => entry.binding === names.binding) ?? [];
      if (found.length !== 1 || found[0].service !== expected) {
        throw new Error(`adding ${names.binding} to wrangler.toml${environment ? ` [env.${environment}]` : ""} did not give one binding to ${expected}`);
      }
    }
  } catch (error) {
    throw new Error(`Could not wire the tool into wrangler.toml, which is unchanged: ${error instanceof Error ? error.message : error}`);
  } finally {
    rmSync(scratch, { force: true });
  }
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { root: { type: "string" }, "no-types": { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
  });
  if (values.help || positionals.length !== 1) {
    console.log("Usage: npm run new-tool -- <name>   (e.g. npm run new-tool -- unit-converter)");
    if (!values.help) process.exitCode = 1;
    return;
  }
  const projectRoot = path.resolve(values.root ?? repositoryRoot);
  const { names } = await newTool(positionals[0], { projectRoot, types: !values["no-types"] });
  if (values["no-types"]) console.log("Types not generated (--no-types): run `npm run types` before `npm run typecheck`.");
  console.log(`
Next:
  1. Declare the tool in tools/${names.folder}/index.ts, write its logic in tools/${names.folder}/${names.folder}.ts
     and its test in tools/${names.folder}/${names.folder}.test.ts. Try it without a key: npm start, then ask for it
     (or send "tool_choice": {"type": "function", "function": {"name": "${names.tool}"}}).
  2. npm test                  runs its test with the others; npm start serves it locally with the orchestrator.
  3. npm run deploy -- ${names.folder} orchestrator
                               the first deploy: the tool, then the orchestrator (its config gained ${names.binding}).
     npm run deploy -- ${names.folder}
                               every later deploy: the orchestrator picks up the new schema within its cache TTL.`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`new-tool: ${error instanceof Error ? error.message : error}`);
    process.exitCode = 1;
  });
}
