// The scripts a newcomer runs first: every one answers --help without starting anything, `npm start`
// refuses bad settings with one line that names the variable, and a developer's .dev.vars never
// reaches the Workers the tests (or the bench) run.

import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { listWorkers, miniflareWorkers, root } from "../../scripts/lib/workers.mjs";

const run = promisify(execFile);
const scratch = mkdtempSync(path.join(tmpdir(), "switchboard-scripts-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs a script the way npm does, with no .dev.vars (SWITCHBOARD_DEV_VARS points at nothing). */
async function script(file: string, args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(root, file), ...args], {
      cwd: root,
      env: { ...process.env, SWITCHBOARD_DEV_VARS: path.join(scratch, "none"), NO_COLOR: "1", ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const npmScripts = Object.entries((JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts)
  .map(([name, command]) => ({ name, file: /^node (scripts\/\S+\.mjs)$/.exec(command)?.[1] }))
  .filter((entry): entry is { name: string; file: string } => entry.file !== undefined);

describe("--help", () => {
  it("is offered by every npm script that runs a script of ours", () => {
    expect(npmScripts.map((entry) => entry.name)).toEqual(
      expect.arrayContaining(["start", "bench", "deploy", "new-tool", "remove-tool", "webhook", "types", "bundle-check", "check-lock", "build:tools"]),
    );
  });

  for (const { name, file } of npmScripts) {
    it(`npm run ${name} -- --help prints its usage and exits 0, starting nothing`, async () => {
      const result = await script(file, ["--help"]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: /);
      expect(result.stdout).not.toMatch(/listening|Bundling|Round \d/);
    }, 30_000);
  }
});

describe("npm start with bad settings", () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ PORT: "abc" }, "npm start: PORT must be a port number from 1 to 65535 (e.g. PORT=8788 npm start)."],
    [{ MAX_STEPS: "abc" }, "npm start: MAX_STEPS must be a whole number (e.g. 8) (set in the environment)."],
    [{ SWITCHBOARD_API_KEYS: " , ," }, "npm start: SWITCHBOARD_API_KEYS must be comma-separated keys, each `key` or `tenant:key` (set in the environment)."],
    [
      { DMXAPI_API_KEY: "sk-x", DMXAPI_BASE_URL: "gateway.example/v1" },
      "npm start: DMXAPI_BASE_URL must be an http(s) URL such as https://www.dmxapi.cn/v1 (set in the environment).",
    ],
    [{ OFFLINE_MODEL: "maybe" }, "npm start: OFFLINE_MODEL must be auto, on or off (set in the environment)."],
  ];
  for (const [env, line] of cases) {
    it(`exits 1 with one line for ${JSON.stringify(env)}`, async () => {
      const result = await script("scripts/start.mjs", [], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`${line}\n`);
      expect(result.stdout).toBe("");
    }, 30_000);
  }

  it("exits 1 with one line when the port is taken", async () => {
    const server = net.createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)));
    try {
      const result = await script("scripts/start.mjs", [], { PORT: String(port) });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`npm start: port ${port} on 127.0.0.1 is in use: stop what is using it, or choose another with PORT=<port> npm start.\n`);
    } finally {
      server.close();
    }
  }, 30_000);
});

describe(".dev.vars", () => {
  it("never reaches the Workers that tests and the bench run: only wrangler.toml [vars] are bound", () => {
    const project = path.join(scratch, "project");
    for (const entry of ["src", "kit", "tools", "wrangler.toml"]) cpSync(path.join(root, entry), path.join(project, entry), { recursive: true });
    writeFileSync(path.join(project, ".dev.vars"), 'MAX_TOOL_OUTPUT_CHARS=30\nDMXAPI_API_KEY="sk-from-dev-vars"\n');
    for (const tool of listWorkers(project).filter((worker) => worker.isTool))
      writeFileSync(path.join(path.dirname(tool.configPath), ".dev.vars"), "SECRET=leak\n");
    const [orchestrator, ...tools] = miniflareWorkers(listWorkers(project));
    expect(orchestrator!.bindings).toEqual({ DMXAPI_BASE_URL: "https://www.dmxapi.cn/v1", DMXAPI_MODEL: "gpt-5-mini" });
    for (const tool of tools) expect(tool.bindings).not.toHaveProperty("SECRET");
  });
});
