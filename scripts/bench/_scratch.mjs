import { fork } from "node:child_process";
import { build } from "esbuild";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { buildAll } from "./build.mjs";
import { runLoad, percentile } from "./load.mjs";
import { miniflareWorkers } from "../lib/workers.mjs";
const b = await buildAll();
await build({ entryPoints: ["/work/main/bench/workers/diagnostics/memory-kv-entry.mjs"], outfile: "/work/main/dist/bench/memory-kv.js", bundle: true, format: "esm", platform: "neutral", conditions: ["workerd","worker","browser"], mainFields: ["module","main"], logLevel: "warning" });
const mock = fork("/work/main/scripts/bench/mock-upstream.mjs");
const port = await new Promise(r => mock.once("message", m => r(m.port)));
const base = `http://127.0.0.1:${port}/v1`;
const ds = [{ host: "127.0.0.1", port: 0 }];
const vars = { DMXAPI_BASE_URL: base, DMXAPI_API_KEY: "sk-bench-up-0123456789", DMXAPI_MAX_RETRIES: "0", SWITCHBOARD_API_KEYS: "bench:sk-bench-client-0123456789" };
const project = miniflareWorkers(b.workers).map(w => w.name === "switchboard" ? { ...w, bindings: { ...w.bindings, ...vars }, unsafeDirectSockets: ds } : w);
const { name, scriptPath, ...shape } = project[0];
const mf = new Miniflare(convertV4MiniflareOptions({ port: 0, handleStructuredLogs: () => {}, workers: [...project,
  { ...shape, name: "memkv", scriptPath: "/work/main/dist/bench/memory-kv.js" },
  { ...shape, name: "memkv-quiet", scriptPath: "/work/main/dist/bench/memory-kv.js", bindings: { ...shape.bindings, QUIET_LOGS: "on" } },
]}));
await mf.ready;
const urls = {};
for (const n of ["switchboard", "memkv", "memkv-quiet"]) urls[n] = new URL("/v1/chat/completions", await mf.unsafeGetDirectURL(n)).href;
const body = JSON.stringify({ model: "gpt-5-mini", messages: [{ role: "user", content: process.env.PROMPT ?? "Say hello in one word." }] });
const headers = { authorization: "Bearer sk-bench-client-0123456789" };
for (const n of Object.keys(urls)) await runLoad({ url: urls[n], body, headers, connections: 4, seconds: 1 });
for (let round = 0; round < 2; round++) for (const c of [1, 16]) for (const n of Object.keys(urls)) {
  const r = await runLoad({ url: urls[n], body, headers, connections: c, seconds: 2 });
  const s = Float64Array.from(r.latencies).sort();
  console.log(round, c, n.padEnd(12), percentile(s, 50).toFixed(2), percentile(s, 99).toFixed(2), (r.ok / r.seconds).toFixed(0), r.errors + r.non2xx);
}
await mf.dispose(); mock.kill();
