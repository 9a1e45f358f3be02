// `npm run new-tool` end to end, in a scratch copy of the project: the scaffolded tool passes its own
// generated test, and once bound it is listed by GET /v1/tools and called by the tool loop, while the
// orchestrator's code is untouched (only its wrangler.toml and generated binding types change).

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { bundleWorkers, listWorkers, root } from "../../scripts/lib/workers.mjs";
import { type Switchboard, startSwitchboard } from "./support/harness.js";
import { type JsonObject, reply, toolCall } from "./support/mock-upstream.js";

const run = promisify(execFile);
const FOLDER = "word-stats";

let project: string;
let before: Map<string, string>;
let scaffoldOutput: string;
let switchboard: Switchboard | undefined;

/** Every file of the scratch project (node_modules aside) with a hash of its content. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const file = path.join(entry.parentPath, entry.name);
    if (!entry.isFile() || path.relative(dir, file).startsWith("node_modules")) continue;
    files.set(path.relative(dir, file).split(path.sep).join("/"), createHash("sha256").update(readFileSync(file)).digest("hex"));
  }
  return files;
}

beforeAll(async () => {
  // What a fresh clone has, minus anything built or local; node_modules is shared.
  project = mkdtempSync(path.join(tmpdir(), "switchboard-new-tool-"));
  const skip = new Set(["dist", ".wrangler", "node_modules"]);
  for (const entry of ["src", "kit", "tools", "wrangler.toml", "tsconfig.json"]) {
    cpSync(path.join(root, entry), path.join(project, entry), { recursive: true, filter: (source) => !skip.has(path.basename(source)) });
  }
  symlinkSync(path.join(root, "node_modules"), path.join(project, "node_modules"), "junction");
  before = snapshot(project);
  const { stdout } = await run(process.execPath, [path.join(root, "scripts/new-tool.mjs"), FOLDER, "--root", project]);
  scaffoldOutput = stdout;
}, 60_000);

afterAll(async () => {
  await switchboard?.dispose();
  if (project) rmSync(project, { recursive: true, force: true });
});

describe("npm run new-tool", () => {
  it("adds the tool's folder and its binding, and changes nothing else", () => {
    expect(scaffoldOutput).toContain("TOOL_WORD_STATS");
    const after = snapshot(project);
    const added = [...after.keys()].filter((file) => !before.has(file)).sort();
    const changed = [...after.keys()].filter((file) => before.has(file) && before.get(file) !== after.get(file)).sort();
    const removed = [...before.keys()].filter((file) => !after.has(file));
    expect(added).toEqual([
      `tools/${FOLDER}/index.ts`,
      `tools/${FOLDER}/${FOLDER}.test.ts`,
      `tools/${FOLDER}/worker-configuration.d.ts`,
      `tools/${FOLDER}/wrangler.toml`,
    ]);
    // No orchestrator code change: its config gains a binding, and its generated types follow.
    expect(changed).toEqual(["src/worker-configuration.d.ts", "wrangler.toml"]);
    expect(removed).toEqual([]);
    expect(readFileSync(path.join(project, "src/worker-configuration.d.ts"), "utf8")).toContain("TOOL_WORD_STATS: Fetcher");
    expect(readFileSync(path.join(project, `tools/${FOLDER}/worker-configuration.d.ts`), "utf8")).toContain("export interface WordStatsBindings");
  });

  it("binds each environment's orchestrator to the same environment's tool Worker", () => {
    const config = (env?: string) => unstable_readConfig({ config: path.join(project, "wrangler.toml"), env }, { hideWarnings: true });
    const tool = (env?: string) => unstable_readConfig({ config: path.join(project, "tools", FOLDER, "wrangler.toml"), env }, { hideWarnings: true });
    for (const env of [undefined, "staging", "production"]) {
      const services = (config(env).services ?? []) as Array<{ binding: string; service: string }>;
      const service = services.find((entry) => entry.binding === "TOOL_WORD_STATS")?.service;
      expect(service).toBe(tool(env).name);
      expect(service).toBe(env ? `switchboard-tool-${FOLDER}-${env}` : `switchboard-tool-${FOLDER}`);
    }
  });

  it("refuses a name that is taken, leaving the project as it was", async () => {
    const snapshotBefore = snapshot(project);
    const attempt = run(process.execPath, [path.join(root, "scripts/new-tool.mjs"), "word_stats", "--root", project]);
    await expect(attempt).rejects.toMatchObject({ stderr: expect.stringContaining("already exists") });
    expect(snapshot(project)).toEqual(snapshotBefore);
  });

  it("scaffolds a tool whose generated test passes", async () => {
    // The generated test alone, in workerd, as the workers test project runs tools/**/*.test.ts.
    const config = path.join(project, "vitest.scaffold.config.mjs");
    writeFileSync(
      config,
      [
        'import { cloudflareTest } from "@cloudflare/vitest-plugin";',
        'import { defineConfig } from "vitest/config";',
        "export default defineConfig({",
        `  plugins: [cloudflareTest({ wrangler: { configPath: "./tools/${FOLDER}/wrangler.toml" } })],`,
        `  test: { include: ["tools/${FOLDER}/*.test.ts"] },`,
        "});",
        "",
      ].join("\n"),
    );
    const vitest = path.join(root, "node_modules/vitest/vitest.mjs");
    const { stdout } = await run(process.execPath, [vitest, "run", "--config", config, "--root", project], {
      cwd: project,
      env: { ...process.env, NO_COLOR: "1", CI: "1" },
    });
    expect(stdout).toMatch(/Tests\s+6 passed \(6\)/);
  }, 60_000);

  it("serves the new tool through the orchestrator once bound: GET /v1/tools and the tool loop", async () => {
    const workers = await bundleWorkers(listWorkers(project));
    expect(existsSync(workers.find((worker) => worker.folder === FOLDER)!.outFile)).toBe(true);
    switchboard = await startSwitchboard({ workers });

    const listed = (await (await switchboard.request("/v1/tools")).json()) as { data: Array<{ function: { name: string }; metadata: JsonObject }> };
    expect(listed.data.map((tool) => tool.function.name).sort()).toEqual([
      "calculate",
      "flaky",
      "get_current_time",
      "get_current_weather",
      "notes",
      "word_stats",
    ]);
    expect(listed.data.find((tool) => tool.function.name === "word_stats")!.metadata).toMatchObject({ binding: "TOOL_WORD_STATS", side_effects: false });

    switchboard.upstream.enqueue(reply.toolCalls(toolCall("word_stats", { text: "The cat sat. The cat ran!", top: 1 }, "call_ws")));
    await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "How many words?" }] });
    const toolMessage = (switchboard.upstream.chatCalls[1]!.body.messages as JsonObject[]).find((message) => message.role === "tool")!;
    expect(toolMessage.tool_call_id).toBe("call_ws");
    expect(JSON.parse(String(toolMessage.content))).toMatchObject({ words: 6, sentences: 2, top_words: [{ word: "cat", count: 2 }] });
  }, 30_000);
});
