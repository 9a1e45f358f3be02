import { describe, expect, it } from "vitest";
import type { ChatCompletionRequest } from "../../src/protocol/types.js";
import type { DmxapiClientOptions, RetryEvent } from "../../src/upstream/dmxapi-client.js";
import { createDmxapiClient, toUpstreamError } from "../../src/upstream/dmxapi-client.js";
import { UpstreamError } from "../../src/upstream/upstream-error.js";

interface Recorded {
  url: string;
  init: RequestInit;
  body: unknown;
}

type Answer = Response | Error | (() => Response | Promise<Response>) | "hang";

const request: ChatCompletionRequest = { model: "gpt-5-mini", messages: [{ role: "user", content: "上海今天几度?" }] };

const completion = (content = "hi") => ({
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model: "gpt-5-mini",
  choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
});

const errorJson = (status: number, message: string, code: string | number | null = null, headers: Record<string, string> = {}) =>
  Response.json({ error: { message, type: "upstream_error", param: "", code } }, { status, headers });

/** A fetch that answers from a script, one entry per call, and records what it was sent. */
function scriptedFetch(answers: Answer[]) {
  const calls: Recorded[] = [];
  const fake = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    calls.push({ url: String(input), init, body: typeof init.body === "string" ? JSON.parse(init.body) : undefined });
    const answer = answers.shift();
    if (answer === undefined) throw new Error("fetch called more often than scripted");
    if (answer === "hang") {
      return new Promise<Response>((_resolve, reject) => {
        const signal = init.signal;
        if (signal?.aborted) reject(signal.reason);
        signal?.addEventListener("abort", () => reject(signal.reason));
      });
    }
    if (answer instanceof Error) throw answer;
    if (typeof answer === "function") return answer();
    return answer;
  };
  return { fetch: fake as unknown as typeof fetch, calls };
}

function client(answers: Answer[], overrides: Partial<DmxapiClientOptions> = {}) {
  const scripted = scriptedFetch(answers);
  const delays: number[] = [];
  const retries: RetryEvent[] = [];
  const model = createDmxapiClient({
    baseUrl: "https://www.dmxapi.cn/v1",
    apiKey: "sk-test",
    defaultModel: "gpt-5-mini",
    timeoutMs: 10_000,
    maxRetries: 2,
    fetch: scripted.fetch,
    sleep: async (milliseconds) => {
      delays.push(milliseconds);
    },
    onRetry: (event) => retries.push(event),
    ...overrides,
  });
  return { model, calls: scripted.calls, delays, retries };
}

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(UpstreamError);
    return error as UpstreamError;
  }
  throw new Error("expected the call to fail");
}

describe("createDmxapiClient: the request", () => {
  it("posts to {base}/chat/completions with a Bearer key", async () => {
    const { model, calls } = client([Response.json(completion())]);
    await model.complete(request);
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call!.url).toBe("https://www.dmxapi.cn/v1/chat/completions");
    expect(call!.init.method).toBe("POST");
    const headers = new Headers(call!.init.headers);
    expect(headers.get("authorization")).toBe("Bearer sk-test");
    expect(headers.get("content-type")).toBe("application/json");
    expect(headers.get("accept")).toBe("application/json");
    expect(call!.body).toMatchObject({ model: "gpt-5-mini", stream: false, messages: request.messages });
  });

  it("handles trailing slashes on the base URL", async () => {
    const { model, calls } = client([Response.json(completion())], { baseUrl: "https://ssvip.dmxapi.com/v1//" });
    await model.complete(request);
    expect(calls[0]!.url).toBe("https://ssvip.dmxapi.com/v1/chat/completions");
  });

  it("exposes the default model", () => {
    expect(client([]).model.defaultModel).toBe("gpt-5-mini");
  });

  it("returns the normalized completion", async () => {
    const { model } = client([Response.json(completion("hello"))]);
    const result = await model.complete(request);
    expect(result.choices[0]!.message.content).toBe("hello");
    expect(result.usage).toEqual({ prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 });
  });
});

describe("createDmxapiClient: retries", () => {
  it("retries a 429 and a 500, then succeeds", async () => {
    const { model, calls, delays, retries } = client(
      [errorJson(429, "Rate limit reached", "rate_limit_exceeded"), errorJson(500, "boom"), Response.json(completion())],
      {},
    );
    const result = await model.complete(request);
    expect(result.id).toBe("chatcmpl-1");
    expect(calls).toHaveLength(3);
    expect(delays).toHaveLength(2);
    expect(delays[0]).toBeGreaterThanOrEqual(375);
    expect(delays[0]).toBeLessThanOrEqual(500);
    expect(delays[1]).toBeGreaterThanOrEqual(750);
    expect(delays[1]).toBeLessThanOrEqual(1000);
    expect(retries.map((event) => [event.attempt, event.status])).toEqual([
      [1, 429],
      [2, 500],
    ]);
  });

  it("waits as long as retry-after-ms says", async () => {
    const { model, delays } = client([errorJson(429, "slow down", "rate_limit_exceeded", { "retry-after-ms": "1234" }), Response.json(completion())]);
    await model.complete(request);
    expect(delays).toEqual([1234]);
  });

  it("gives up after maxRetries retries", async () => {
    const { model, calls, delays } = client([errorJson(500, "a"), errorJson(500, "b"), errorJson(500, "c"), Response.json(completion())], {
      maxRetries: 2,
    });
    const error = await failure(model.complete(request));
    expect(calls).toHaveLength(3);
    expect(delays).toHaveLength(2);
    expect(error.status).toBe(502);
    expect(error.upstreamStatus).toBe(500);
    expect(error.message).toContain("c");
  });

  it("does not retry at all with maxRetries 0", async () => {
    const { model, calls } = client([errorJson(500, "a"), Response.json(completion())], { maxRetries: 0 });
    await failure(model.complete(request));
    expect(calls).toHaveLength(1);
  });

  it("does not retry a 400 and keeps it a 400", async () => {
    const { model, calls, delays } = client([errorJson(400, "Unsupported parameter: 'max_tokens'", "unsupported_parameter")]);
    const error = await failure(model.complete(request));
    expect(calls).toHaveLength(1);
    expect(delays).toEqual([]);
    expect(error.status).toBe(400);
    expect(error.type).toBe("invalid_request_error");
    expect(error.code).toBe("unsupported_parameter");
    expect(error.message).toContain("Unsupported parameter");
  });

  it("does not retry a 429 for an exhausted quota", async () => {
    const { model, calls } = client([errorJson(429, "You exceeded your current quota", "insufficient_quota"), Response.json(completion())]);
    const error = await failure(model.complete(request));
    expect(calls).toHaveLength(1);
    expect(error.status).toBe(429);
    expect(error.code).toBe("insufficient_quota");
  });

  it("does not retry a 503 for an unknown model and answers 404 model_not_found", async () => {
    const { model, calls } = client([errorJson(503, "当前分组 default 下对于模型 gpt-5-minii 无可用渠道 (request id: 2025)"), Response.json(completion())]);
    const error = await failure(model.complete(request));
    expect(calls).toHaveLength(1);
    expect(error.status).toBe(404);
    expect(error.code).toBe("model_not_found");
    expect(error.upstreamStatus).toBe(503);
  });

  it("retries a network error, then succeeds", async () => {
    const { model, calls } = client([new TypeError("Network connection lost."), Response.json(completion())]);
    await model.complete(request);
    expect(calls).toHaveLength(2);
  });

  it("maps a network error that persists to 502 upstream_unreachable", async () => {
    const { model, calls } = client([new TypeError("a"), new TypeError("b"), new TypeError("Network connection lost.")]);
    const error = await failure(model.complete(request));
    expect(calls).toHaveLength(3);
    expect(error.status).toBe(502);
    expect(error.code).toBe("upstream_unreachable");
    expect(error.message).toContain("Network connection lost.");
  });

  it("times out an attempt with 504 upstream_timeout", async () => {
    const { model, calls } = client(["hang"], { timeoutMs: 50, maxRetries: 0 });
    const error = await failure(model.complete(request));
    expect(calls).toHaveLength(1);
    expect(calls[0]!.init.signal!.aborted).toBe(true);
    expect(error.status).toBe(504);
    expect(error.code).toBe("upstream_timeout");
  });

  it("retries a timed-out attempt", async () => {
    const { model, calls } = client(["hang", Response.json(completion())], { timeoutMs: 50, maxRetries: 1 });
    await model.complete(request);
    expect(calls).toHaveLength(2);
  });

  it("gives each attempt a signal of its own", async () => {
    const { model, calls } = client(["hang", Response.json(completion())], { timeoutMs: 50, maxRetries: 1 });
    await model.complete(request);
    expect(calls[0]!.init.signal!.aborted).toBe(true);
    expect(calls[1]!.init.signal!.aborted).toBe(false);
  });

  it("answers 499 and does not retry when the caller cancels", async () => {
    const controller = new AbortController();
    const { model, calls } = client(["hang", Response.json(completion())], { timeoutMs: 10_000 });
    const pending = model.complete(request, { signal: controller.signal });
    setTimeout(() => controller.abort(), 10);
    const error = await failure(pending);
    expect(error.status).toBe(499);
    expect(calls).toHaveLength(1);
  });

  it("retries a 200 whose body is an error object, then surfaces it", async () => {
    const body = () => Response.json({ error: { message: "upstream overloaded", type: "upstream_error", code: "" } });
    const { model, calls, retries } = client([body, body, body], { maxRetries: 2 });
    const error = await failure(model.complete(request));
    expect(calls).toHaveLength(3);
    expect(retries.map((event) => event.status)).toEqual([200, 200]);
    expect(error.status).toBe(502);
    expect(error.message).toContain("upstream overloaded");
  });

  it("retries a 200 whose body is an error object, then succeeds", async () => {
    const { model, calls } = client([Response.json({ error: { message: "flaky" } }), Response.json(completion())]);
    await model.complete(request);
    expect(calls).toHaveLength(2);
  });

  it("retries a 200 whose body is not JSON", async () => {
    const truncated = () => new Response('{"id":"chatcmpl-1","choices":[{"ind', { status: 200 });
    const { model, calls } = client([truncated, Response.json(completion())]);
    await model.complete(request);
    expect(calls).toHaveLength(2);
  });

  it("surfaces a 200 with a non-JSON body as 502 upstream_invalid_response", async () => {
    const html = () => new Response("<html>gateway</html>", { status: 200 });
    const { model, calls } = client([html, html], { maxRetries: 1 });
    const error = await failure(model.complete(request));
    expect(calls).toHaveLength(2);
    expect(error.status).toBe(502);
    expect(error.code).toBe("upstream_invalid_response");
  });

  it("surfaces a 200 without choices as 502 without retrying", async () => {
    const { model, calls } = client([Response.json({ id: "x", choices: [] }), Response.json(completion())]);
    const error = await failure(model.complete(request));
    expect(error.status).toBe(502);
    expect(calls).toHaveLength(1);
  });

  it("spends one retry budget across HTTP errors and 200 error bodies", async () => {
    const { model, calls } = client([errorJson(500, "a"), Response.json({ error: { message: "b" } }), errorJson(500, "c"), Response.json(completion())], {
      maxRetries: 1,
    });
    const error = await failure(model.complete(request));
    // One try and one retry in all: the 200 with an error body is the retry, and it is final.
    expect(calls).toHaveLength(2);
    expect(error.message).toContain("b");
  });

  // A real fetch errors the body when the attempt's signal aborts, after the headers arrived too.
  it("maps a body read that outlasts the timeout to 504 upstream_timeout", async () => {
    const slowBody = (signal: AbortSignal) =>
      new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"id":"chatcmpl-1",'));
            signal.addEventListener("abort", () => controller.error(signal.reason));
          },
        }),
      );
    const calls: AbortSignal[] = [];
    const model = createDmxapiClient({
      baseUrl: "https://www.dmxapi.cn/v1",
      apiKey: "sk-test",
      defaultModel: "gpt-5-mini",
      timeoutMs: 1000,
      maxRetries: 0,
      fetch: (async (_input: RequestInfo | URL, init?: RequestInit) => {
        calls.push(init!.signal!);
        return slowBody(init!.signal!);
      }) as unknown as typeof fetch,
      sleep: async () => undefined,
    });
    const error = await failure(model.complete(request));
    expect(error.status).toBe(504);
  });
});

describe("createDmxapiClient: openStream", () => {
  const sse = () => new Response('data: {"choices":[]}\n\ndata: [DONE]\n\n', { status: 200, headers: { "Content-Type": "text/event-stream" } });

  it("returns the body after retrying a 429", async () => {
    const { model, calls, delays } = client([errorJson(429, "Rate limit reached", "rate_limit_exceeded"), sse]);
    const body = await model.openStream(request);
    expect(await new Response(body).text()).toBe('data: {"choices":[]}\n\ndata: [DONE]\n\n');
    expect(calls).toHaveLength(2);
    expect(delays).toHaveLength(1);
    expect(calls[1]!.body).toMatchObject({ stream: true });
    expect(new Headers(calls[1]!.init.headers).get("accept")).toBe("text/event-stream");
  });

  it("throws the mapped error when the stream cannot be opened", async () => {
    const { model, calls } = client([errorJson(401, "Incorrect API key provided", "invalid_api_key")]);
    const error = await failure(model.openStream(request));
    expect(calls).toHaveLength(1);
    expect(error.status).toBe(502);
    expect(error.code).toBe("upstream_authentication_failed");
  });

  it("answers 502 when a 200 has no body", async () => {
    const { model } = client([new Response(null, { status: 200 })]);
    const error = await failure(model.openStream(request));
    expect(error.status).toBe(502);
  });

  // The attempt timeout covers the wait for headers; once a stream flows it may run for minutes, and
  // only silence longer than the timeout ends it.
  function trickle(pieces: number, gapMs: number): Response {
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        for (let index = 0; index < pieces; index++) {
          await new Promise((resolve) => setTimeout(resolve, gapMs));
          controller.enqueue(encoder.encode(`: PING ${index}\n\n`));
        }
        controller.enqueue(encoder.encode("data: [DONE]\n\n"));
        controller.close();
      },
    });
    return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
  }

  async function drain(stream: ReadableStream<Uint8Array>): Promise<string> {
    return new Response(stream).text();
  }

  it("keeps a stream that flows for longer than the attempt timeout", async () => {
    const { model, calls } = client([trickle(6, 250)], { timeoutMs: 1000 });
    const text = await drain(await model.openStream(request));
    expect(text).toContain("data: [DONE]");
    expect(calls[0]!.init.signal!.aborted).toBe(false);
  });

  it("ends a stream that goes silent for longer than the timeout with 504 upstream_timeout", async () => {
    const { model } = client([trickle(2, 1500)], { timeoutMs: 1000 });
    const stream = await model.openStream(request);
    const error = await drain(stream).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).status).toBe(504);
    expect((error as UpstreamError).code).toBe("upstream_timeout");
  });
});

describe("toUpstreamError", () => {
  const body = (message: string, code: string | number | null = null) => ({ error: { message, type: "upstream_error", param: null, code } });

  it.each([
    [400, 400, "invalid_request_error"],
    [422, 400, "invalid_request_error"],
    [401, 502, "upstream_error"],
    [403, 502, "upstream_error"],
    [404, 502, "upstream_error"],
    [413, 413, "invalid_request_error"],
    [429, 429, "rate_limit_error"],
    [408, 504, "upstream_error"],
    [504, 504, "upstream_error"],
    [524, 504, "upstream_error"],
    [500, 502, "upstream_error"],
    [502, 502, "upstream_error"],
    [503, 503, "upstream_error"],
  ])("maps upstream %i to %i", (upstream, expected, type) => {
    const error = toUpstreamError(upstream, body("something"));
    expect(error.status).toBe(expected);
    expect(error.type).toBe(type);
    expect(error.upstreamStatus).toBe(upstream);
  });

  it("maps a 503 for an unknown model to 404 model_not_found", () => {
    const error = toUpstreamError(503, body("No available channel for model gpt-5-minii"));
    expect(error).toMatchObject({ status: 404, code: "model_not_found", type: "invalid_request_error" });
  });

  it("names the cause in codes", () => {
    expect(toUpstreamError(401, null).code).toBe("upstream_authentication_failed");
    expect(toUpstreamError(403, null).code).toBe("upstream_forbidden");
    expect(toUpstreamError(404, null).code).toBe("upstream_not_found");
    expect(toUpstreamError(413, null).code).toBe("context_length_exceeded");
    expect(toUpstreamError(429, null).code).toBe("rate_limit_exceeded");
    expect(toUpstreamError(524, null).code).toBe("upstream_timeout");
  });

  it("keeps the upstream's code where it sent one", () => {
    expect(toUpstreamError(429, body("quota", "insufficient_quota")).code).toBe("insufficient_quota");
    expect(toUpstreamError(400, body("bad", 1234)).code).toBe(1234);
  });

  it("falls back to the HTTP status as message for an empty body (504/524 HTML)", () => {
    expect(toUpstreamError(500, null).message).toContain("HTTP 500");
  });

  it("maps statuses through the client the same way", async () => {
    for (const [upstream, expected] of [
      [400, 400],
      [401, 502],
      [403, 502],
      [404, 502],
      [413, 413],
    ] as const) {
      const { model } = client([errorJson(upstream, "x")]);
      expect((await failure(model.complete(request))).status).toBe(expected);
    }
    const html504 = () => new Response("<html>Gateway Timeout</html>", { status: 504 });
    const timeouts = client([html504, html504, () => new Response("", { status: 524 })]);
    const error = await failure(timeouts.model.complete(request));
    expect(error).toMatchObject({ status: 504, code: "upstream_timeout", upstreamStatus: 524 });
  });
});
