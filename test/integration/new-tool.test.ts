// `npm run new-tool` end to end, in a scratch copy of the project: the scaffolded tool passes its own
// generated test, and once bound it is listed by GET /v1/tools and called by the tool loop, while the
// orchestrator's code is untouched (only its wrangler.toml and generated binding types change); then
// `npm run remove-tool` puts the project back byte for byte.

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { bundleWorkers, listWorkers, root } from "../../scripts/lib/workers.mjs";
import { toolNames } from "../../scripts/new-tool.mjs";
import { type Switchboard, startSwitchboard } from "./support/harness.js";
import { type JsonObject, reply, toolCall } from "./support/mock-upstream.js";

const run = promisify(execFile);
/** A name no tool of this repository has, so the test works after any `npm run new-tool`. */
const FOLDER = ["scaffold-probe", "scaffold-probe-2", "scaffold-probe-3"].find((name) => !existsSync(path.join(root, "tools", name)))!;
const names = toolNames(FOLDER);

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
  for (const entry of ["src", "kit", "tools", "playground", "wrangler.toml", "tsconfig.json"]) {
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
    expect(scaffoldOutput).toContain(names.binding);
    const after = snapshot(project);
    const added = [...after.keys()].filter((file) => !before.has(file)).sort();
    const changed = [...after.keys()].filter((file) => before.has(file) && before.get(file) !== after.get(file)).sort();
    const removed = [...before.keys()].filter((file) => !after.has(file));
    expect(added).toEqual(
      [
        `tools/${FOLDER}/index.ts`,
        `tools/${FOLDER}/${FOLDER}.test.ts`,
        `tools/${FOLDER}/${FOLDER}.ts`,
        `tools/${FOLDER}/worker-configuration.d.ts`,
        `tools/${FOLDER}/wrangler.toml`,
      ].sort(),
    );
    // No orchestrator code change: its config gains a binding, and its generated types follow.
    expect(changed).toEqual(["src/worker-configuration.d.ts", "wrangler.toml"]);
    expect(removed).toEqual([]);
    expect(readFileSync(path.join(project, "src/worker-configuration.d.ts"), "utf8")).toContain(`${names.binding}: Fetcher`);
    expect(readFileSync(path.join(project, `tools/${FOLDER}/worker-configuration.d.ts`), "utf8")).toContain(`export interface ${names.bindingsType}`);
    // The template's own names are all replaced.
    for (const file of added) expect(readFileSync(path.join(project, file), "utf8")).not.toMatch(/tool[-_]template|ToolTemplate|@template/i);
  });

  it("binds each environment's orchestrator to the same environment's tool Worker", () => {
    const config = (env?: string) => unstable_readConfig({ config: path.join(project, "wrangler.toml"), env }, { hideWarnings: true });
    const tool = (env?: string) => unstable_readConfig({ config: path.join(project, "tools", FOLDER, "wrangler.toml"), env }, { hideWarnings: true });
    for (const env of [undefined, "staging", "production"]) {
      const services = (config(env).services ?? []) as Array<{ binding: string; service: string }>;
      const service = services.find((entry) => entry.binding === names.binding)?.service;
      expect(service).toBe(tool(env).name);
      expect(service).toBe(env ? `switchboard-tool-${FOLDER}-${env}` : `switchboard-tool-${FOLDER}`);
    }
  });

  it("refuses a name that is taken, leaving the project as it was", async () => {
    const snapshotBefore = snapshot(project);
    const attempt = run(process.execPath, [path.join(root, "scripts/new-tool.mjs"), names.tool, "--root", project]);
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
    const bound = (unstable_readConfig({ config: path.join(project, "wrangler.toml") }, { hideWarnings: true }).services ?? []).map(
      (entry: { binding: string }) => entry.binding,
    );
    expect(bound).toContain(names.binding);
    expect(listed.data.map((tool) => tool.metadata.binding).sort()).toEqual([...bound, "TOOL_FLAKY"].sort());
    expect(listed.data.find((tool) => tool.function.name === names.tool)!.metadata).toMatchObject({ binding: names.binding, side_effects: false });

    switchboard.upstream.enqueue(reply.toolCalls(toolCall(names.tool, { text: "The cat sat. The cat ran!", top: 1 }, "call_ws")));
    await switchboard.openai.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "How many words?" }] });
    const toolMessage = (switchboard.upstream.chatCalls[1]!.body.messages as JsonObject[]).find((message) => message.role === "tool")!;
    expect(toolMessage.tool_call_id).toBe("call_ws");
    expect(JSON.parse(String(toolMessage.content))).toMatchObject({ words: 6, sentences: 2, top_words: [{ word: "cat", count: 2 }] });
  }, 30_000);

  it("is undone by npm run remove-tool: the project is byte for byte as before", async () => {
    const { stdout } = await run(process.execPath, [path.join(root, "scripts/remove-tool.mjs"), FOLDER, "--root", project]);
    expect(stdout).toContain(`Removed 3 ${names.binding} bindings from wrangler.toml.`);
    const after = snapshot(project);
    // Built bundles and this test's own vitest config are not part of the project; the rest is exactly as it was.
    for (const file of after.keys()) if (file.startsWith("dist/") || file === "vitest.scaffold.config.mjs") after.delete(file);
    expect(after).toEqual(before);
  }, 60_000);

  it("remove-tool refuses a tool that does not exist, changing nothing", async () => {
    const snapshotBefore = snapshot(project);
    const attempt = run(process.execPath, [path.join(root, "scripts/remove-tool.mjs"), "no-such-tool", "--root", project]);
    await expect(attempt).rejects.toMatchObject({ stderr: expect.stringContaining("there is no tools/no-such-tool and no TOOL_NO_SUCH_TOOL binding") });
    expect(snapshot(project)).toEqual(snapshotBefore);
  });
});
