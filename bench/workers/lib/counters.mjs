// What one orchestrator invocation asks of the platform, counted from inside its isolate: Workers KV
// operations, Durable Object calls, service-binding calls and outbound fetches. Outbound fetches are
// counted by replacing globalThis.fetch, which the orchestrator looks up at each call.
//
// Every KV and Durable Object call can be slowed by a fixed delay (a stand-in for the network round
// trip each is in production). An operation that settles before the handler's response exists was on
// the answer's path: the client waited for it. With a delay of several milliseconds, an operation that
// merely happens to finish early cannot be mistaken for one that was awaited.

export const counts = {};
// `answer` numbers the invocations (one at a time while counting); null when none is pending.
const state = { delayMs: 0, answer: null, answers: 0 };

export function resetCounts() {
  for (const key of Object.keys(counts)) delete counts[key];
}
export function setDelay(ms) {
  state.delayMs = ms;
}
/** Marks an answer pending (true) or sent (false). */
export function setAnswering(answering) {
  state.answer = answering ? ++state.answers : null;
}

function add(group, name, onPath) {
  const key = `${group}.${name}`;
  counts[key] ??= { total: 0, onAnswerPath: 0 };
  counts[key].total++;
  if (onPath) counts[key].onAnswerPath++;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `call` after the injected delay; counts it, and whether it settled while the answer was pending. */
function counted(group, name, call, { delayed, background = false }) {
  // Work no request waits for (a Durable Object's alarm) is never on an answer's path.
  const answer = background ? null : state.answer;
  const run = delayed && state.delayMs > 0 ? sleep(state.delayMs).then(call) : call();
  // On the path only if that same answer is still pending: a later turn's answer does not count.
  const settle = () => add(group, name, answer !== null && state.answer === answer);
  // Counted once settled (either way), without changing what the caller sees.
  Promise.resolve(run).then(settle, settle);
  return run;
}

const real = globalThis.fetch;
globalThis.fetch = (...args) =>
  counted("fetch", new URL(args[0] instanceof Request ? args[0].url : String(args[0])).host, () => real(...args), { delayed: false });

const KV_OPERATIONS = new Set(["get", "getWithMetadata", "list", "put", "delete"]);
export function countedKv(kv, label, { background = false } = {}) {
  return new Proxy(kv, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (!KV_OPERATIONS.has(property)) return value.bind(target);
      return (...args) => counted(`kv:${label}`, property, () => Reflect.apply(value, target, args), { delayed: true, background });
    },
  });
}

// An RPC stub answers every property name (it is a proxy itself): wrap only calls we expect.
const STUB_SKIP = new Set(["then", "id", "name", "dup", "connect"]);
function countedStub(stub, group) {
  return new Proxy(stub, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (typeof property !== "string" || STUB_SKIP.has(property) || typeof value !== "function") return value;
      return (...args) => counted(group, property, () => Reflect.apply(value, target, args), { delayed: group.startsWith("do:") });
    },
  });
}

/** A Durable Object namespace whose stubs count their calls (idFromName/get are local: not counted). */
export function countedDurableObjects(namespace, label) {
  return new Proxy(namespace, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property === "get" || property === "getByName") return (...args) => countedStub(Reflect.apply(value, target, args), `do:${label}`);
      return value.bind(target);
    },
  });
}

/** A service binding (Fetcher or RPC entrypoint) whose fetch and RPC calls are counted. */
export function countedService(fetcher, label) {
  return countedStub(fetcher, `service:${label}`);
}
