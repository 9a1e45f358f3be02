import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        // Unit tests of every module and every tool, inside workerd.
        plugins: [cloudflareTest({ wrangler: { configPath: "./test/wrangler.unit.toml" } })],
        test: { name: "workers", include: ["test/unit/**/*.test.ts", "tools/**/*.test.ts", "kit/**/*.test.ts", "dev/**/*.test.ts"] },
      },
      {
        // The orchestrator and every tool Worker together in Miniflare, driven by real clients.
        test: {
          name: "integration",
          environment: "node",
          include: ["test/integration/**/*.test.ts"],
          // Bundles every Worker with wrangler, once, before the first integration test.
          globalSetup: ["test/integration/support/global-setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
