// `npm start`: the orchestrator and every tool Worker, locally, in one workerd process.
// Configuration comes from the process environment and .dev.vars (the environment wins); without a
// DMXAPI key the orchestrator drives the loop with its built-in offline model.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { bundleWorkers, listWorkers, miniflareWorkers, root } from "./lib/workers.mjs";

/** Variables read from the environment, by the Worker that uses them. */
const ORCHESTRATOR_VARS = [
  "SWITCHBOARD_API_KEYS",
  "DMXAPI_API_KEY",
  "DMXAPI_BASE_URL",
  "DMXAPI_MODEL",
  "DMXAPI_MODELS",
  "DMXAPI_FALLBACK_MODELS",
  "DMXAPI_TIMEOUT_MS",
  "DMXAPI_MAX_RETRIES",
  "OFFLINE_MODEL",
  "MAX_STEPS",
  "MAX_TOOL_CALLS_PER_STEP",
  "TOOL_TIMEOUT_MS",
  "MAX_TOOL_OUTPUT_CHARS",
  "MAX_TOOL_INVOCATIONS",
  "TOOL_SCHEMA_TTL_SECONDS",
  "CONVERSATION_TTL_SECONDS",
  "MAX_CONVERSATION_BYTES",
  "MAX_BODY_BYTES",
  "MAX_MESSAGES",
  "TURN_DEADLINE_MS",
  "IDEMPOTENCY_TTL_SECONDS",
  "STREAM_KEEPALIVE_MS",
  "WEBHOOK_RETRY_BASE_SECONDS",
  "MCP_SERVERS",
  "MCP_ALLOWED_ORIGINS",
  "TENANT_SERVER_TOOLS",
];
/** Webhook signing secrets and callback settings are named by each hook (src/webhooks/hooks.ts). */
const HOOK_VARS = /_(WEBHOOK_SECRET|CALLBACK_URL|CALLBACK_SECRET)$/;
/** Accepted by `npm start` only, when no SWITCHBOARD_API_KEYS is set; a deployed Worker never has it. */
const LOCAL_DEV_KEY = "sk-switchboard-local-dev";
const TOOL_VARS = ["OPEN_METEO_GEOCODING_URL", "OPEN_METEO_FORECAST_URL", "NOTES_TTL_SECONDS"];

function readDevVars(file) {
  if (!existsSync(file)) return {};
  const vars = {};
  for (const line of readFileSync(file, "utf8").split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trimStart().startsWith("#")) continue;
    vars[match[1]] = match[2].replace(/^(['"])(.*)\1$/, "$2");
  }
  return vars;
}

/** The secrets MCP_SERVERS names for its servers' headers. */
function mcpSecretNames(raw) {
  try {
    const servers = JSON.parse(raw ?? "[]");
    return Array.isArray(servers) ? servers.flatMap((server) => Object.values(server?.headers ?? {})).filter((name) => typeof name === "string") : [];
  } catch {
    return [];
  }
}

function pick(source, names) {
  return Object.fromEntries(names.filter((name) => source[name] !== undefined && source[name] !== "").map((name) => [name, source[name]]));
}

const settings = { ...readDevVars(path.join(root, ".dev.vars")), ...process.env };
const port = Number.parseInt(settings.PORT ?? "8787", 10);
const host = settings.HOST ?? "127.0.0.1";

const workers = await bundleWorkers(listWorkers());
const [orchestrator] = workers;
const hookVars = pick(
  settings,
  Object.keys(settings).filter((name) => HOOK_VARS.test(name)),
);
const orchestratorVars = { OFFLINE_MODEL: "auto", ...pick(settings, ORCHESTRATOR_VARS), ...hookVars, ...pick(settings, mcpSecretNames(settings.MCP_SERVERS)) };
const localKey = !orchestratorVars.SWITCHBOARD_API_KEYS;
if (localKey) orchestratorVars.SWITCHBOARD_API_KEYS = `local:${LOCAL_DEV_KEY}`;
const toolVars = pick(settings, TOOL_VARS);
const options = miniflareWorkers(workers).map((worker) =>
  worker.name === orchestrator.name
    ? { ...worker, bindings: { ...worker.bindings, ...orchestratorVars } }
    : { ...worker, bindings: { ...worker.bindings, ...pick(toolVars, Object.keys(worker.bindings ?? {})) } },
);

const miniflare = new Miniflare(
  convertV4MiniflareOptions({
    host,
    port,
    workers: options,
    // Local KV (conversations, notes) survives restarts here, like `wrangler dev`.
    resourcePersistencePath: path.join(root, ".wrangler", "state"),
  }),
);
const url = await miniflare.ready;

const offline = !orchestratorVars.DMXAPI_API_KEY && orchestratorVars.OFFLINE_MODEL !== "off";
const model = offline
  ? "the built-in offline model (no DMXAPI_API_KEY set)"
  : `${orchestratorVars.DMXAPI_MODEL ?? "gpt-5-mini"} via ${orchestratorVars.DMXAPI_BASE_URL ?? "https://www.dmxapi.cn/v1"}`;
console.log(`Switchboard listening on ${url.origin}`);
console.log(`  model: ${model}`);
console.log(
  `  tool Workers: ${workers
    .filter((worker) => worker.isTool)
    .map((worker) => worker.name)
    .join(", ")}`,
);
console.log(localKey ? `  API key: ${LOCAL_DEV_KEY} (local development key: SWITCHBOARD_API_KEYS is not set)` : "  API keys: from SWITCHBOARD_API_KEYS");
const shownKey = localKey ? LOCAL_DEV_KEY : "$YOUR_KEY";
console.log(
  `  try: curl ${url.origin}/v1/chat/completions -H 'Authorization: Bearer ${shownKey}' -H 'Content-Type: application/json' -d '{"messages":[{"role":"user","content":"上海今天几度?"}]}'`,
);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await miniflare.dispose();
    process.exit(0);
  });
}
