// The orchestrator's own bundle behind a thin wrapper that counts what it asks of Workers KV. Only the
// bench's KV accounting runs through it; latency is measured on the unwrapped orchestrator.
//
//   GET  /__kv_counts        -> {"list":n,"get":n,"getWithMetadata":n,"put":n,"delete":n}
//   POST /__kv_counts/reset  -> 204
//   anything else            -> the orchestrator, with env.CONVERSATIONS counted
import orchestrator from "../../dist/switchboard/index.js";

// Whatever else the orchestrator exports (entrypoints, Durable Object classes) stays reachable.
export * from "../../dist/switchboard/index.js";

const OPERATIONS = ["list", "get", "getWithMetadata", "put", "delete"];
const counts = Object.fromEntries(OPERATIONS.map((name) => [name, 0]));

function counted(kv) {
  return new Proxy(kv, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (!OPERATIONS.includes(property)) return value.bind(target);
      return (...args) => {
        counts[property]++;
        return value.apply(target, args);
      };
    },
  });
}

export default {
  ...orchestrator,
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname === "/__kv_counts") return Response.json(counts);
    if (pathname === "/__kv_counts/reset") {
      for (const name of OPERATIONS) counts[name] = 0;
      return new Response(null, { status: 204 });
    }
    return orchestrator.fetch(request, { ...env, CONVERSATIONS: counted(env.CONVERSATIONS) }, ctx);
  },
};
