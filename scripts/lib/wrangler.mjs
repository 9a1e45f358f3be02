// Runs the project's own wrangler (node_modules/wrangler) with the Node that runs this script, so
// scripts behave the same whatever `wrangler` or `node` the machine has on its PATH. Telemetry is off
// unless WRANGLER_SEND_METRICS says otherwise.

import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const wranglerPackage = require.resolve("wrangler/package.json");
export const wranglerBin = path.join(path.dirname(wranglerPackage), require(wranglerPackage).bin.wrangler);
export const wranglerVersion = require(wranglerPackage).version;

/** The command as a person would type it, for logs. */
export function describeCommand(args) {
  const quote = (arg) => (arg === "" ? '""' : /[\s"'$]/.test(arg) ? JSON.stringify(arg) : arg.endsWith("=") ? `${arg}""` : arg);
  return ["wrangler", ...args.map(quote)].join(" ");
}

/**
 * Runs wrangler with `args`. With `capture`, its output is collected and returned (and not shown);
 * otherwise it goes straight to this process's terminal.
 * @returns {Promise<{ code: number, output: string }>}
 */
export function runWrangler(args, { cwd, capture = false, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    // `env` is laid over this process's environment; an undefined value removes a variable.
    const childEnv = Object.fromEntries(Object.entries({ WRANGLER_SEND_METRICS: "false", ...process.env, ...env }).filter(([, value]) => value !== undefined));
    // Captured output is parsed or summarised: no banner in it.
    if (capture) childEnv.WRANGLER_HIDE_BANNER ??= "true";
    const child = spawn(process.execPath, [wranglerBin, ...args], {
      cwd,
      env: childEnv,
      stdio: capture ? ["ignore", "pipe", "pipe"] : "inherit",
    });
    let output = "";
    child.stdout?.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr?.on("data", (chunk) => {
      output += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), output }));
  });
}
