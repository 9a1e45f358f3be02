// Portkey's AI gateway (npm `@portkey-ai/gateway`, a devDependency) as the bench's peer gateway: its own
// Node process, started the way its package's `bin` starts it, routed to the bench's mock upstream per
// request with Portkey's headers for an OpenAI-compatible custom host. Non-streaming only: its
// streaming through a custom host does not work, so it is not in the first-content measurement.

import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { UPSTREAM_KEY } from "./setup.mjs";

const require = createRequire(import.meta.url);
const packageJson = require.resolve("@portkey-ai/gateway/package.json");
const { version, bin } = require("@portkey-ai/gateway/package.json");
const entry = path.join(path.dirname(packageJson), typeof bin === "string" ? bin : Object.values(bin)[0]);

export const PORTKEY_VERSION = version;

const freePort = () =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/** Headers that send one request through Portkey to the mock: provider openai at a custom host. */
export const portkeyHeaders = (upstreamBaseUrl) => ({
  "content-type": "application/json",
  authorization: `Bearer ${UPSTREAM_KEY}`,
  "x-portkey-provider": "openai",
  "x-portkey-custom-host": upstreamBaseUrl,
});

/** Starts the gateway; resolves once it answers. Its console output is discarded (it logs no line per request). */
export async function startPortkey() {
  const port = await freePort();
  // It listens on every interface (its start script takes no host); the port is free and ephemeral.
  const child = spawn(process.execPath, [entry, `--port=${port}`, "--headless"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    if (stderr.length < 4000) stderr += chunk;
  });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`Portkey gateway exited (${child.exitCode}): ${stderr}`);
    try {
      await fetch(url);
      return { child, url: `${url}/v1/chat/completions`, version };
    } catch {
      await sleep(100);
    }
  }
  child.kill("SIGTERM");
  throw new Error(`Portkey gateway did not listen on ${url} within 10 s: ${stderr}`);
}
