import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ToolCallContext, ToolSchemaResponse } from "../../kit/protocol.js";
import { InvocationBudget } from "../../src/tools/invocation-budget.js";
import type { RegistryOptions, ServerTool } from "../../src/tools/registry.js";
import { clearToolSchemaCache, createToolRegistry } from "../../src/tools/registry.js";

// ---- fakes -------------------------------------------------------------------------------------

interface Received {
  url: string;
  method: string;
  headers: Headers;
  body: unknown;
  signal: AbortSignal | null;
}

type Handler = (request: Received) => Response | Promise<Response>;

/** A service binding stand-in: answers /schema and /invoke from handlers and counts what it got. */
function fakeFetcher(handlers: { schema?: Handler; invoke?: Handler }) {
  const received: Received[] = [];
  const fetcher = {
    async fetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
      const url = String(input);
      const request: Received = {
        url,
        method: init.method ?? "GET",
        headers: new Headers(init.headers),
        body: typeof init.body === "string" ? JSON.parse(init.body) : undefined,
        signal: init.signal ?? null,
      };
      received.push(request);
      const handler = url.endsWith("/schema") ? handlers.schema : url.endsWith("/invoke") ? handlers.invoke : undefined;
      if (!handler) return new Response("not found", { status: 404 });
      return handler(request);
    },
    connect() {
      throw new Error("not supported");
    },
  };
  return {
    fetcher: fetcher as unknown as Fetcher,
    received,
    schemaFetches: () => received.filter((request) => request.url.endsWith("/schema")).length,
  };
}

function schema(
  name: string,
  version = "1",
  parameters: Record<string, unknown> = { type: "object", properties: {} },
  sideEffects = false,
): ToolSchemaResponse {
  return { type: "function", function: { name, description: `${name} tool`, parameters }, metadata: { version, side_effects: sideEffects } };
}

const weatherParameters = {
  type: "object",
  properties: { location: { type: "string", minLength: 1 }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
  required: ["location"],
  additionalProperties: false,
};

function registry(env: object, overrides: Partial<RegistryOptions> = {}) {
  return createToolRegistry({ env, cacheTtlMs: 60_000, discoveryTimeoutMs: 1000, budget: new InvocationBudget(31), ...overrides });
}

const context: ToolCallContext = {
  conversation_id: "conv_1",
  tool_call_id: "call_1",
  request_id: "req_1",
  tenant: "default",
  idempotency_key: "default:conv_1:call_1",
};

const kvLike = { get: async () => null, put: async () => undefined, list: async () => ({ keys: [] }) };

async function toolNamed(tools: Promise<ServerTool[]>, name: string): Promise<ServerTool> {
  const tool = (await tools).find((entry) => entry.name === name);
  if (!tool) throw new Error(`no tool ${name}`);
  return tool;
}

beforeEach(() => {
  clearToolSchemaCache();
  // Discovery failures are logged as warnings; keep the test output readable.
  vi.spyOn(console, "warn").mockImplementation(() => undefined);
});

afterEach(() => {
  vi.restoreAllMocks();
});

// ---- discovery ---------------------------------------------------------------------------------

describe("tool discovery", () => {
  it("lists the tools of TOOL_* bindings only", async () => {
    const weather = fakeFetcher({ schema: () => Response.json(schema("get_current_weather", "1", weatherParameters, false)) });
    const other = fakeFetcher({ schema: () => Response.json(schema("not_a_tool")) });
    const env = { TOOL_WEATHER: weather.fetcher, CONVERSATIONS: kvLike, OTHER: other.fetcher, TOOL_SETTING: "on", TOOL_NOTHING: null };
    const tools = await registry(env).list();
    expect(tools.map((tool) => tool.name)).toEqual(["get_current_weather"]);
    expect(other.received).toEqual([]);
    const [tool] = tools;
    expect(tool).toMatchObject({ binding: "TOOL_WEATHER", version: "1", sideEffects: false });
    expect(tool!.definition).toEqual({
      type: "function",
      function: { name: "get_current_weather", description: "get_current_weather tool", parameters: weatherParameters },
    });
    expect(weather.received[0]).toMatchObject({ url: "https://tool.internal/schema", method: "GET" });
  });

  it("reads side effects and fills in a missing version and parameters", async () => {
    const notes = fakeFetcher({ schema: () => Response.json({ ...schema("notes", "2", {}, true) }) });
    const bare = fakeFetcher({ schema: () => Response.json({ type: "function", function: { name: "bare" } }) });
    const tools = await registry({ TOOL_NOTES: notes.fetcher, TOOL_BARE: bare.fetcher }).list();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    expect(byName.get("notes")!.sideEffects).toBe(true);
    expect(byName.get("bare")).toMatchObject({ version: "unversioned", sideEffects: false });
    expect(byName.get("bare")!.definition.function.parameters).toEqual({ type: "object", properties: {} });
  });

  it("answers from the cache within the TTL", async () => {
    const weather = fakeFetcher({ schema: () => Response.json(schema("get_current_weather")) });
    const env = { TOOL_WEATHER: weather.fetcher };
    let clock = 1_000_000;
    const now = () => clock;
    await registry(env, { now }).list();
    clock += 59_000;
    // A new registry (a new request) in the same isolate shares the cache.
    const tools = await registry(env, { now }).list();
    expect(tools.map((tool) => tool.name)).toEqual(["get_current_weather"]);
    expect(weather.schemaFetches()).toBe(1);
  });

  it("does not spend the invocation budget on a cached schema", async () => {
    const weather = fakeFetcher({ schema: () => Response.json(schema("get_current_weather")) });
    const env = { TOOL_WEATHER: weather.fetcher };
    await registry(env).list();
    const budget = new InvocationBudget(5);
    await registry(env, { budget }).list();
    expect(budget.spent).toBe(0);
  });

  it("asks again after the TTL and keeps the same tool when the version did not change", async () => {
    const weather = fakeFetcher({ schema: () => Response.json(schema("get_current_weather", "1")) });
    const env = { TOOL_WEATHER: weather.fetcher };
    let clock = 1_000_000;
    const now = () => clock;
    const first = await toolNamed(registry(env, { now }).list(), "get_current_weather");
    clock += 60_000;
    const second = await toolNamed(registry(env, { now }).list(), "get_current_weather");
    expect(weather.schemaFetches()).toBe(2);
    expect(second).toBe(first);
  });

  it("picks up a new version after the TTL", async () => {
    let version = "1";
    const weather = fakeFetcher({ schema: () => Response.json(schema(version === "1" ? "weather_v1" : "weather_v2", version)) });
    const env = { TOOL_WEATHER: weather.fetcher };
    let clock = 0;
    const now = () => clock;
    expect((await registry(env, { now }).list()).map((tool) => tool.name)).toEqual(["weather_v1"]);
    version = "2";
    clock += 30_000;
    expect((await registry(env, { now }).list()).map((tool) => tool.name)).toEqual(["weather_v1"]);
    clock += 30_000;
    const tools = await registry(env, { now }).list();
    expect(tools.map((tool) => [tool.name, tool.version])).toEqual([["weather_v2", "2"]]);
  });

  it("keeps serving the last good schema when /schema fails", async () => {
    let healthy = true;
    const weather = fakeFetcher({ schema: () => (healthy ? Response.json(schema("get_current_weather")) : new Response("oops", { status: 500 })) });
    const env = { TOOL_WEATHER: weather.fetcher };
    let clock = 0;
    const now = () => clock;
    await registry(env, { now }).list();
    healthy = false;
    clock += 120_000;
    expect((await registry(env, { now }).list()).map((tool) => tool.name)).toEqual(["get_current_weather"]);
    expect(weather.schemaFetches()).toBe(2);
  });

  it("keeps serving the last good schema when the binding throws", async () => {
    let healthy = true;
    const weather = fakeFetcher({
      schema: () => {
        if (!healthy) throw new Error("worker crashed");
        return Response.json(schema("get_current_weather"));
      },
    });
    const env = { TOOL_WEATHER: weather.fetcher };
    let clock = 0;
    await registry(env, { now: () => clock }).list();
    healthy = false;
    clock += 120_000;
    expect((await registry(env, { now: () => clock }).list()).map((tool) => tool.name)).toEqual(["get_current_weather"]);
  });

  it("does not let a bad binding hide the others", async () => {
    const env = {
      TOOL_A_CRASH: fakeFetcher({ schema: () => Promise.reject(new Error("boom")) }).fetcher,
      TOOL_B_HTML: fakeFetcher({ schema: () => new Response("<html>", { status: 200 }) }).fetcher,
      TOOL_C_500: fakeFetcher({ schema: () => new Response("down", { status: 500 }) }).fetcher,
      TOOL_D_WRONG: fakeFetcher({ schema: () => Response.json({ type: "not-a-function" }) }).fetcher,
      TOOL_E_CLOCK: fakeFetcher({ schema: () => Response.json(schema("get_current_time")) }).fetcher,
      TOOL_F_WEATHER: fakeFetcher({ schema: () => Response.json(schema("get_current_weather")) }).fetcher,
    };
    const tools = await registry(env).list();
    expect(tools.map((tool) => tool.name)).toEqual(["get_current_time", "get_current_weather"]);
  });

  it("gives a name claimed by two bindings to the first binding", async () => {
    const first = fakeFetcher({ schema: () => Response.json(schema("get_current_weather", "a")) });
    const second = fakeFetcher({ schema: () => Response.json(schema("get_current_weather", "b")) });
    const tools = await registry({ TOOL_WEATHER_2: second.fetcher, TOOL_WEATHER_1: first.fetcher }).list();
    expect(tools).toHaveLength(1);
    expect(tools[0]).toMatchObject({ binding: "TOOL_WEATHER_1", version: "a" });
  });

  it("lists tools in binding order", async () => {
    const env = {
      TOOL_C: fakeFetcher({ schema: () => Response.json(schema("c")) }).fetcher,
      TOOL_A: fakeFetcher({ schema: () => Response.json(schema("a")) }).fetcher,
      TOOL_B: fakeFetcher({ schema: () => Response.json(schema("b")) }).fetcher,
    };
    expect((await registry(env).list()).map((tool) => tool.name)).toEqual(["a", "b", "c"]);
  });

  it("skips discovery when the invocation budget is spent", async () => {
    const weather = fakeFetcher({ schema: () => Response.json(schema("get_current_weather")) });
    const tools = await registry({ TOOL_WEATHER: weather.fetcher }, { budget: new InvocationBudget(0) }).list();
    expect(tools).toEqual([]);
    expect(weather.received).toEqual([]);
  });

  it("gives up on a /schema that does not answer in time", async () => {
    const hanging = fakeFetcher({
      schema: (request) => new Promise<Response>((_resolve, reject) => request.signal?.addEventListener("abort", () => reject(request.signal!.reason))),
    });
    const clock = fakeFetcher({ schema: () => Response.json(schema("get_current_time")) });
    const tools = await registry({ TOOL_HANG: hanging.fetcher, TOOL_CLOCK: clock.fetcher }, { discoveryTimeoutMs: 50 }).list();
    expect(tools.map((tool) => tool.name)).toEqual(["get_current_time"]);
  });

  // Sent to the model, such a name would make the upstream refuse every request: one bad binding must
  // not hide the others.
  it("skips a tool whose name the model API would reject", async () => {
    const env = {
      TOOL_BAD: fakeFetcher({ schema: () => Response.json(schema("get weather!")) }).fetcher,
      TOOL_GOOD: fakeFetcher({ schema: () => Response.json(schema("get_current_time")) }).fetcher,
    };
    expect((await registry(env).list()).map((tool) => tool.name)).toEqual(["get_current_time"]);
  });
});

// ---- validation --------------------------------------------------------------------------------

describe("ServerTool.validate", () => {
  async function weatherTool(): Promise<ServerTool> {
    const weather = fakeFetcher({ schema: () => Response.json(schema("get_current_weather", "1", weatherParameters)) });
    return toolNamed(registry({ TOOL_WEATHER: weather.fetcher }).list(), "get_current_weather");
  }

  it("accepts arguments that fit", async () => {
    const tool = await weatherTool();
    expect(tool.validate({ location: "上海" })).toEqual([]);
    expect(tool.validate({ location: "Paris", unit: "celsius" })).toEqual([]);
  });

  it("reports a missing required field", async () => {
    const problems = (await weatherTool()).validate({});
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join(" ")).toContain("location");
  });

  it("reports a wrong type and a value outside an enum, naming the field", async () => {
    const tool = await weatherTool();
    const wrongType = tool.validate({ location: 42 });
    expect(wrongType.join(" ")).toMatch(/#\/location/);
    const outsideEnum = tool.validate({ location: "Paris", unit: "kelvin" });
    expect(outsideEnum.join(" ")).toMatch(/#\/unit/);
  });

  it("reports an unexpected property", async () => {
    expect((await weatherTool()).validate({ location: "Paris", extra: true }).length).toBeGreaterThan(0);
  });

  it("reports every problem", async () => {
    const problems = (await weatherTool()).validate({ location: 42, unit: "kelvin" });
    expect(problems.filter((problem) => problem.includes("#/location"))).not.toEqual([]);
    expect(problems.filter((problem) => problem.includes("#/unit"))).not.toEqual([]);
  });
});

// ---- invocation --------------------------------------------------------------------------------

describe("tool invocation", () => {
  async function setup(invoke: Handler, budget = new InvocationBudget(31)) {
    const weather = fakeFetcher({ schema: () => Response.json(schema("get_current_weather", "1", weatherParameters)), invoke });
    const tools = createToolRegistry({ env: { TOOL_WEATHER: weather.fetcher }, cacheTtlMs: 60_000, discoveryTimeoutMs: 1000, budget });
    const tool = await toolNamed(tools.list(), "get_current_weather");
    return { tools, tool, weather };
  }

  it("returns the tool's result and sends arguments, context and the idempotency key", async () => {
    const { tools, tool, weather } = await setup(() => Response.json({ result: { temperature: 23.4, unit: "celsius" } }));
    const outcome = await tools.invoke(tool, { location: "上海" }, context, { timeoutMs: 1000 });
    expect(outcome).toEqual({ ok: true, result: { temperature: 23.4, unit: "celsius" } });
    const sent = weather.received.find((request) => request.url.endsWith("/invoke"))!;
    expect(sent).toMatchObject({ url: "https://tool.internal/invoke", method: "POST", body: { arguments: { location: "上海" }, context } });
    expect(sent.headers.get("idempotency-key")).toBe("default:conv_1:call_1");
    expect(sent.headers.get("content-type")).toBe("application/json");
  });

  it("returns a null or empty result as a success", async () => {
    const { tools, tool } = await setup(() => Response.json({ result: null }));
    expect(await tools.invoke(tool, {}, context, { timeoutMs: 1000 })).toEqual({ ok: true, result: null });
  });

  it("passes the tool's error body through", async () => {
    const { tools, tool } = await setup(() =>
      Response.json({ error: { type: "invalid_arguments", message: "Unknown city: Atlantis", code: "unknown_city" } }, { status: 422 }),
    );
    expect(await tools.invoke(tool, { location: "Atlantis" }, context, { timeoutMs: 1000 })).toEqual({
      ok: false,
      type: "invalid_arguments",
      message: "Unknown city: Atlantis",
    });
  });

  it("reports an answer that is not JSON as a tool error with the status", async () => {
    const { tools, tool } = await setup(() => new Response("<html>Internal Server Error</html>", { status: 500 }));
    const outcome = await tools.invoke(tool, {}, context, { timeoutMs: 1000 });
    expect(outcome).toMatchObject({ ok: false, type: "tool_error" });
    expect(outcome.ok === false && outcome.message).toContain("500");
  });

  it("reports a 200 without result or error as a tool error", async () => {
    const { tools, tool } = await setup(() => Response.json({ something: "else" }));
    expect(await tools.invoke(tool, {}, context, { timeoutMs: 1000 })).toMatchObject({ ok: false, type: "tool_error" });
  });

  it("does not take a result from a failed status", async () => {
    const { tools, tool } = await setup(() => Response.json({ result: "half" }, { status: 500 }));
    expect(await tools.invoke(tool, {}, context, { timeoutMs: 1000 })).toMatchObject({ ok: false, type: "tool_error" });
  });

  it("reports a thrown error as a tool error with its message", async () => {
    const { tools, tool } = await setup(() => {
      throw new Error("Worker threw exception");
    });
    const outcome = await tools.invoke(tool, {}, context, { timeoutMs: 1000 });
    expect(outcome).toMatchObject({ ok: false, type: "tool_error" });
    expect(outcome.ok === false && outcome.message).toContain("Worker threw exception");
  });

  it("times out a tool that does not answer", async () => {
    const { tools, tool } = await setup(
      (request) => new Promise<Response>((_resolve, reject) => request.signal?.addEventListener("abort", () => reject(request.signal!.reason))),
    );
    const outcome = await tools.invoke(tool, {}, context, { timeoutMs: 50 });
    expect(outcome).toMatchObject({ ok: false, type: "tool_timeout" });
    expect(outcome.ok === false && outcome.message).toContain("50 ms");
  });

  it("stops a tool when the caller cancels, without calling it a timeout", async () => {
    const controller = new AbortController();
    const { tools, tool } = await setup(
      (request) => new Promise<Response>((_resolve, reject) => request.signal?.addEventListener("abort", () => reject(request.signal!.reason))),
    );
    const pending = tools.invoke(tool, {}, context, { timeoutMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(new Error("client went away")), 5);
    expect(await pending).toMatchObject({ ok: false, type: "tool_error" });
  });

  it("refuses to invoke once the invocation budget is spent", async () => {
    // Discovery takes the only invocation, so the call finds the budget exhausted.
    const budget = new InvocationBudget(1);
    const { tools, tool, weather } = await setup(() => Response.json({ result: "ran" }), budget);
    const outcome = await tools.invoke(tool, {}, context, { timeoutMs: 1000 });
    expect(outcome).toMatchObject({ ok: false, type: "invocation_budget_exhausted" });
    expect(outcome.ok === false && outcome.message).toContain("1 tool Worker calls");
    expect(weather.received.filter((request) => request.url.endsWith("/invoke"))).toEqual([]);
  });

  it("spends one invocation per call", async () => {
    const budget = new InvocationBudget(3);
    const { tools, tool } = await setup(() => Response.json({ result: "ran" }), budget);
    expect(budget.spent).toBe(1);
    expect(await tools.invoke(tool, {}, context, { timeoutMs: 1000 })).toMatchObject({ ok: true });
    expect(await tools.invoke(tool, {}, context, { timeoutMs: 1000 })).toMatchObject({ ok: true });
    expect(budget.remaining).toBe(0);
    expect(await tools.invoke(tool, {}, context, { timeoutMs: 1000 })).toMatchObject({ ok: false, type: "invocation_budget_exhausted" });
  });

  it("reports a tool whose binding is gone", async () => {
    const { tool } = await setup(() => Response.json({ result: "ran" }));
    const empty = registry({});
    expect(await empty.invoke(tool, {}, context, { timeoutMs: 1000 })).toMatchObject({ ok: false, type: "unknown_tool" });
  });
});

describe("InvocationBudget", () => {
  it("gives out at most its limit", () => {
    const budget = new InvocationBudget(2);
    expect([budget.tryTake(), budget.tryTake(), budget.tryTake()]).toEqual([true, true, false]);
    expect(budget.spent).toBe(2);
    expect(budget.remaining).toBe(0);
  });
});

describe("approval declared by a tool", () => {
  it("a kit tool's needsApproval schema reaches the orchestrator as a predicate on the arguments (notes: only delete)", async () => {
    const { notesTool } = await import("../../tools/notes/index.js");
    const notes = fakeFetcher({ schema: () => Response.json({ ...notesTool.definition, metadata: { ...notesTool.definition.metadata, version: "1" } }) });
    const tool = await toolNamed(registry({ TOOL_NOTES: notes.fetcher }).list(), "notes");
    const needs = tool.approval;
    expect(typeof needs).toBe("function");
    if (typeof needs !== "function") return;
    expect(needs({ action: "delete", note_id: "n1" })).toBe(true);
    expect(needs({ action: "save", text: "milk" })).toBe(false);
    expect(needs({ action: "recall" })).toBe(false);
  });

  it("a tool that asks for approval on every call says always; one that asks nothing says nothing", async () => {
    const always = fakeFetcher({ schema: () => Response.json({ ...schema("pay"), metadata: { version: "1", side_effects: true, approval: "always" } }) });
    const plain = fakeFetcher({ schema: () => Response.json(schema("get_time")) });
    const tools = registry({ TOOL_PAY: always.fetcher, TOOL_TIME: plain.fetcher }).list();
    expect((await toolNamed(tools, "pay")).approval).toBe("always");
    expect((await toolNamed(tools, "get_time")).approval).toBeUndefined();
  });
});
