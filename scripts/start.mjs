// `npm start`: the orchestrator and every tool Worker, locally, in one workerd process, running the
// bundles `wrangler deploy` would upload. Configuration comes from the process environment and
// .dev.vars (the environment wins) and is checked with the orchestrator's own readConfig() before
// anything starts. Without a DMXAPI key, "DMXAPI" is the offline model (dev/offline-model): the
// orchestrator's outbound requests go through it, and it answers those for its own host.

import net from "node:net";
import path from "node:path";
import { parseArgs } from "node:util";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { LOCAL_DEV_KEY, localHookSecret, localSettings, localTenant, readDevVars } from "./lib/local-dev.mjs";
import { loadOrchestratorSource } from "./lib/orchestrator-source.mjs";
import { bundleWorkers, listWorkers, miniflareWorkers, offlineModel, root } from "./lib/workers.mjs";

const USAGE = `Usage: npm start [-- --help]

Runs the orchestrator and every tool Worker on http://$HOST:$PORT (default 127.0.0.1:8787).
Settings come from the environment and .dev.vars (the environment wins):
  PORT, HOST            where to listen
  OFFLINE_MODEL         auto (default: the offline model when DMXAPI_API_KEY is unset), on, off
  DMXAPI_API_KEY, ...   every orchestrator variable of the README's Configuration table
  *_WEBHOOK_SECRET      hook signing secrets (a local one is made up for each unset one)
Without SWITCHBOARD_API_KEYS it accepts the local key ${LOCAL_DEV_KEY}.`;

/** Variables read from the environment, by the Worker that uses them. */
const ORCHESTRATOR_VARS = [
  "SWITCHBOARD_API_KEYS",
  "SWITCHBOARD_ADMIN_KEY",
  "DMXAPI_API_KEY",
  "DMXAPI_BASE_URL",
  "DMXAPI_MODEL",
  "DMXAPI_MODELS",
  "DMXAPI_FALLBACK_MODELS",
  "DMXAPI_TIMEOUT_MS",
  "DMXAPI_MAX_RETRIES",
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
  "ALLOWED_PARAMETERS",
  "MAX_OUTPUT_TOKENS",
  "MAX_JSON_DEPTH",
  "MAX_STRING_CHARS",
  "MAX_UPSTREAM_RESPONSE_BYTES",
  "MCP_SERVERS",
  "MCP_ALLOWED_ORIGINS",
  "APPROVAL_REQUIRED_TOOLS",
  "MODEL_PRICES",
  "TENANT_LIMITS",
  "ALLOW_UNPRICED_MODELS",
  "APPROVAL_TTL_SECONDS",
  "TENANT_SERVER_TOOLS",
];
/** Webhook signing secrets and callback settings are named by each hook (src/webhooks/hooks.ts). */
const HOOK_VARS = /_(WEBHOOK_SECRET|CALLBACK_URL|CALLBACK_SECRET)$/;
const TOOL_VARS = ["OPEN_METEO_GEOCODING_URL", "OPEN_METEO_FORECAST_URL", "NOTES_TTL_SECONDS"];
const OFFLINE_MODEL_NAME = "switchboard-offline";

/** The secrets MCP_SERVERS names for its servers' headers. */
function mcpSecretNames(raw) {
  try {
    const servers = JSON.parse(raw ?? "[]");
    return Array.isArray(servers) ? servers.flatMap((server) => Object.values(server?.headers ?? {})).filter((name) => typeof name === "string") : [];
  } catch {
    return [];
  }
}

/** One line, no stack, non-zero exit: what a misconfigured start should look like. */
function fail(message) {
  console.error(`npm start: ${message}`);
  process.exit(1);
}

function pick(source, names) {
  return Object.fromEntries(names.filter((name) => source[name] !== undefined && source[name] !== "").map((name) => [name, source[name]]));
}

function portFrom(value) {
  const text = String(value).trim();
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65_535) fail("PORT must be a port number from 1 to 65535 (e.g. PORT=8788 npm start).");
  return port;
}

/** Resolves when `port` can be listened on; otherwise exits with a line saying what to do. */
function checkPortFree(port, host) {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", (error) => {
      if (error.code === "EADDRINUSE") fail(`port ${port} on ${host} is in use: stop what is using it, or choose another with PORT=<port> npm start.`);
      if (error.code === "EACCES") fail(`port ${port} on ${host} needs privileges: choose another with PORT=<port> npm start.`);
      if (error.code === "EADDRNOTAVAIL" || error.code === "ENOTFOUND") fail(`HOST ${host} is not an address of this machine (e.g. HOST=127.0.0.1).`);
      fail(`cannot listen on ${host}:${port}: ${error.message}`);
    });
    probe.listen(port, host, () => probe.close(resolve));
  });
}

let args;
try {
  args = parseArgs({ options: { help: { type: "boolean", short: "h" } } });
} catch (error) {
  console.error(`npm start: ${error instanceof Error ? error.message : error}\n\n${USAGE}`);
  process.exit(1);
}
if (args.values.help) {
  console.log(USAGE);
  process.exit(0);
}

const settings = localSettings();
const fromDevVars = readDevVars();
const origin = (name) => (process.env[name] !== undefined ? "the environment" : name in fromDevVars ? ".dev.vars" : "the defaults");
const port = portFrom(settings.PORT ?? "8787");
const host = settings.HOST?.trim() || "127.0.0.1";
const offlineSetting = (settings.OFFLINE_MODEL ?? "auto").trim().toLowerCase();
if (!["auto", "on", "off"].includes(offlineSetting)) fail(`OFFLINE_MODEL must be auto, on or off (set in ${origin("OFFLINE_MODEL")}).`);

const { readConfig, ConfigError, hooks } = await loadOrchestratorSource();
const orchestratorVars = {
  ...pick(settings, ORCHESTRATOR_VARS),
  ...pick(
    settings,
    Object.keys(settings).filter((name) => HOOK_VARS.test(name)),
  ),
  ...pick(settings, mcpSecretNames(settings.MCP_SERVERS)),
};
const offline = offlineSetting === "on" || (offlineSetting === "auto" && !orchestratorVars.DMXAPI_API_KEY?.trim());
const model = offline ? offlineModel() : null;
if (model) {
  // The orchestrator just talks to "DMXAPI"; these make that the offline model.
  Object.assign(orchestratorVars, {
    DMXAPI_BASE_URL: model.baseUrl,
    DMXAPI_API_KEY: "offline-model",
    DMXAPI_MODEL: OFFLINE_MODEL_NAME,
    DMXAPI_MAX_RETRIES: "0",
  });
  delete orchestratorVars.DMXAPI_MODELS;
  delete orchestratorVars.DMXAPI_FALLBACK_MODELS;
}
const localKey = !orchestratorVars.SWITCHBOARD_API_KEYS?.trim();
const tenant = localTenant(hooks);
if (localKey) orchestratorVars.SWITCHBOARD_API_KEYS = `${tenant}:${LOCAL_DEV_KEY}`;
const hookSecrets = [...hooks.values()].map((hook) => {
  const variable = hook.verification.secret;
  const local = !orchestratorVars[variable];
  if (local) orchestratorVars[variable] = localHookSecret(variable, hook.verification.scheme);
  return { hook: hook.name, variable, local };
});

let config;
try {
  config = readConfig(orchestratorVars);
} catch (error) {
  if (error instanceof ConfigError) fail(`${error.message.replace(/\.$/, "")} (set in ${origin(error.variable)}).`);
  throw error;
}
await checkPortFree(port, host);

const projectWorkers = listWorkers();
let workers;
try {
  workers = await bundleWorkers([...projectWorkers, ...(model ? [model.worker] : [])]);
} catch (error) {
  fail(`a Worker does not bundle:\n${error instanceof Error ? error.message : error}`);
}
const [orchestrator] = workers;
const toolVars = pick(settings, TOOL_VARS);
const options = miniflareWorkers(workers).map((worker) => {
  if (worker.name === orchestrator.name) {
    return { ...worker, bindings: { ...worker.bindings, ...orchestratorVars }, ...(model ? { outboundService: model.worker.name } : {}) };
  }
  if (model && worker.name === model.worker.name) return worker;
  return { ...worker, bindings: { ...worker.bindings, ...pick(toolVars, Object.keys(worker.bindings ?? {})) } };
});

const miniflare = new Miniflare(
  convertV4MiniflareOptions({
    host,
    port,
    workers: options,
    // Local KV (conversations, notes) survives restarts here, like `wrangler dev`.
    resourcePersistencePath: path.join(root, ".wrangler", "state"),
  }),
);
let url;
try {
  url = await miniflare.ready;
} catch (error) {
  await miniflare.dispose().catch(() => undefined);
  fail(`could not start on ${host}:${port}: ${error instanceof Error ? error.message.split("\n")[0] : error}`);
}

const dmxapi = config.dmxapi;
const keyTenants = [...new Set(orchestratorVars.SWITCHBOARD_API_KEYS.split(",").map((entry) => (entry.includes(":") ? entry.split(":")[0].trim() : "(own)")))];
const lines = [
  `Switchboard listening on ${url.origin}`,
  `  playground     ${url.origin}/  (open it in a browser and paste the API key below)`,
  `  model          ${offline ? `${OFFLINE_MODEL_NAME}, the offline model (dev/offline-model: no real LLM; set DMXAPI_API_KEY for one)` : `${dmxapi.model} via ${dmxapi.baseUrl}${dmxapi.fallbackModels.length ? `, falling back to ${dmxapi.fallbackModels.join(", ")}` : ""}`}`,
  `  API key        ${localKey ? `${LOCAL_DEV_KEY} (tenant ${tenant}, local only: SWITCHBOARD_API_KEYS is not set)` : `${orchestratorVars.SWITCHBOARD_API_KEYS.split(",").filter((entry) => entry.trim()).length} from SWITCHBOARD_API_KEYS (tenants ${keyTenants.join(", ")})`}${orchestratorVars.SWITCHBOARD_ADMIN_KEY?.trim() ? "; /v1/admin/keys open to SWITCHBOARD_ADMIN_KEY" : ""}`,
  `  tool Workers   ${workers
    .filter((worker) => worker.isTool)
    .map((worker) => worker.folder)
    .join(", ")}`,
  `  limits         MAX_STEPS ${config.limits.maxSteps}, MAX_TOOL_CALLS_PER_STEP ${config.limits.maxToolCallsPerStep}, TOOL_TIMEOUT_MS ${config.limits.toolTimeoutMs}, MAX_TOOL_OUTPUT_CHARS ${config.limits.maxToolOutputChars}, TURN_DEADLINE_MS ${config.limits.turnDeadlineMs}, MAX_BODY_BYTES ${config.limits.maxBodyBytes}`,
  `  upstream       DMXAPI_TIMEOUT_MS ${dmxapi.timeoutMs}, DMXAPI_MAX_RETRIES ${dmxapi.maxRetries}`,
  `  conversations  kept ${config.conversations.ttlSeconds} s, at most ${config.conversations.maxBytes} bytes, in .wrangler/state`,
  `  webhooks       ${hookSecrets.map((entry) => `/v1/webhooks/${entry.hook} (${entry.variable}: ${entry.local ? "a local secret" : "set"})`).join(", ")}`,
  `  settings       environment and .dev.vars${Object.keys(fromDevVars).length ? ` (${Object.keys(fromDevVars).length} from .dev.vars)` : " (no .dev.vars)"}`,
  "",
  `  try: curl ${url.origin}/v1/chat/completions -H 'Authorization: Bearer ${localKey ? LOCAL_DEV_KEY : "$YOUR_KEY"}' -H 'Content-Type: application/json' -d '{"messages":[{"role":"user","content":"上海今天几度?"}]}'`,
  `       npm run webhook -- ${hookSecrets[0]?.hook ?? "<hook>"}      (a signed test event, then the stored answer)`,
];
console.log(lines.join("\n"));

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await miniflare.dispose();
    process.exit(0);
  });
}
