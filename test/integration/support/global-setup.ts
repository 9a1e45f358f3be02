// Builds every Worker once per `vitest run`, before any integration test starts, exactly as a deploy
// bundles it (`wrangler deploy --dry-run`): no test can run a stale dist/.
import { bundleWorkers, listDevWorkers, listWorkers } from "../../../scripts/lib/workers.mjs";

export default async function buildWorkers(): Promise<void> {
  await bundleWorkers([...listWorkers(), ...listDevWorkers()]);
}
