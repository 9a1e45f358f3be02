import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { miniflareWorkers } from "../lib/workers.mjs";
import { BENCH_WORKERS, buildAll } from "./build.mjs";
import { runLoad, percentile } from "./load.mjs";
import { TEXT_PROMPT } from "./prompts.mjs";
import { ORCHESTRATOR, benchWorkerOptions, requestBody, requestHeaders, startMock } from "./setup.mjs";
const built = await buildAll();
const mock = await startMock();
const mf = new Miniflare(convertV4MiniflareOptions({ host: "127.0.0.1", port: 0, handleStructuredLogs: () => {}, workers: benchWorkerOptions(miniflareWorkers(built.workers), mock.baseUrl) }));
await mf.ready;
const url = new URL("/v1/chat/completions", await mf.unsafeGetDirectURL(ORCHESTRATOR)).href;
const admin = await mf.unsafeGetDirectURL(BENCH_WORKERS.kvAdmin.name);
const purge = process.argv.includes("--purge");
for (let i = 0; i < Number(process.env.N ?? 6); i++) {
  let t = performance.now();
  const purged = purge ? await (await fetch(new URL("/purge", admin), { method: "POST" })).json() : null;
  const purgeMs = performance.now() - t;
  const count = await (await fetch(new URL("/count", admin))).json();
  const r = await runLoad({ url, body: requestBody(TEXT_PROMPT), headers: requestHeaders, connections: Number(process.env.C ?? 1), seconds: 3 });
  const s = Float64Array.from(r.latencies).sort();
  console.log(i, "keys before", count.keys, "purged", purged?.deleted, purgeMs.toFixed(0) + "ms", "median", percentile(s, 50).toFixed(2), (r.ok / r.seconds).toFixed(0));
}
await mf.dispose(); mock.child.kill();
