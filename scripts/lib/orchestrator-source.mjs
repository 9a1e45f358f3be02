// The orchestrator's own configuration code, for scripts: `npm start` validates settings with the
// very readConfig() the Worker runs, and reads the webhook hooks from src/webhooks/hooks.ts. The
// TypeScript is bundled in memory with esbuild (what wrangler bundles with) and imported.

import path from "node:path";
import { build } from "esbuild";
import { root } from "./workers.mjs";

let loaded;

/** @returns {Promise<{ readConfig: (env: object) => any, ConfigError: new (...args: any[]) => Error, hooks: ReadonlyMap<string, any> }>} */
export function loadOrchestratorSource(projectRoot = root) {
  loaded ??= (async () => {
    const result = await build({
      stdin: {
        contents: 'export { readConfig, ConfigError } from "./src/config.ts";\nexport { hooks } from "./src/webhooks/hooks.ts";\n',
        resolveDir: projectRoot,
        sourcefile: "orchestrator-source.ts",
        loader: "ts",
      },
      bundle: true,
      write: false,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      logLevel: "silent",
    });
    const code = result.outputFiles[0].text;
    return import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`);
  })();
  return loaded;
}

export const sourcePath = (...parts) => path.join(root, ...parts);
