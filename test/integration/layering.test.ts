// The direction of the orchestrator's imports: base modules (security/, lib/) are what the doors
// build on, so they never import a door (webhooks/, routes/, mcp/). What a base module needs from a
// door (the hooks' secret names) the composition point, config.ts, passes in. Read from the source
// files with node:fs, which the unit tests' workerd does not offer.

import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { root } from "../../scripts/lib/workers.mjs";

/** Base directories, and the doors none of their modules may import. */
const RULES = [{ base: ["src/security", "src/lib"], doors: ["src/webhooks", "src/routes", "src/mcp"] }];

/** Every module specifier in a source text: static imports and re-exports (type-only too), side-effect and dynamic imports. */
function specifiers(source: string): string[] {
  const patterns = [/\bfrom\s*["']([^"']+)["']/g, /^\s*import\s*["']([^"']+)["']/gm, /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((match) => match[1] as string));
}

/** The repository-relative paths a file at `file` imports (relative specifiers only; packages are not ours). */
function importedPaths(file: string, source: string): string[] {
  return specifiers(source)
    .filter((specifier) => specifier.startsWith("."))
    .map((specifier) => path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)));
}

function violations(file: string, source: string, doors: string[]): string[] {
  return importedPaths(file, source)
    .filter((imported) => doors.some((door) => imported === door || imported.startsWith(`${door}/`)))
    .map((imported) => `${file} imports ${imported}`);
}

function modulesIn(directory: string): string[] {
  return readdirSync(path.join(root, directory))
    .filter((name) => name.endsWith(".ts"))
    .map((name) => `${directory}/${name}`);
}

describe("import layering", () => {
  for (const { base, doors } of RULES) {
    it(`keeps ${base.join(", ")} from importing ${doors.join(", ")}`, () => {
      const files = base.flatMap(modulesIn);
      expect(files.length).toBeGreaterThan(base.length);
      const found = files.flatMap((file) => violations(file, readFileSync(path.join(root, file), "utf8"), doors));
      expect(found).toEqual([]);
    });
  }

  it("sees every form of import, so a backward arrow cannot hide", () => {
    const source = [
      'import type { Env } from "../env.js";',
      "import {\n  hooks,\n  other,\n} from '../webhooks/hooks.js';",
      'export { mcp } from "../routes/mcp.js";',
      'import "../mcp/server.js";',
      'const lazy = await import("../webhooks/admin.js");',
      'import { z } from "zod";',
    ].join("\n");
    expect(violations("src/security/example.ts", source, RULES[0]!.doors)).toEqual([
      "src/security/example.ts imports src/webhooks/hooks.js",
      "src/security/example.ts imports src/routes/mcp.js",
      "src/security/example.ts imports src/mcp/server.js",
      "src/security/example.ts imports src/webhooks/admin.js",
    ]);
    // And it reads the real files: api-keys.ts hashes with lib/.
    expect(importedPaths("src/security/api-keys.ts", readFileSync(path.join(root, "src/security/api-keys.ts"), "utf8"))).toContain("src/lib/hash.js");
  });
});
