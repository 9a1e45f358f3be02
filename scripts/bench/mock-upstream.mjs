// The mock model for `npm run bench`: a Node http server on 127.0.0.1 speaking OpenAI chat completions,
// run in its own process so the load generator never shares its event loop.
//
// Every answer is precomputed, as a JSON completion and as an SSE stream (`stream: true`). The only
// per-request work is reading the body and parsing it to find the last message:
//   - last message is a tool result          -> the final text answer (after one tool round trip);
//   - last user message asks for the calculator -> one `calculate` tool call;
//   - anything else                          -> a text answer.
// Two speeds, chosen by the path, so one process (and one set of counters) serves both:
//   - any path                 -> zero latency: the answer is written as soon as the body is read;
//   - a path under /realistic/ -> a realistic model: a JSON answer is held MOCK_ANSWER_MS (200) after the
//     body is read; a stream sends its headers and role event at once and its content MOCK_FIRST_CONTENT_MS
//     (150) later. A gateway's own milliseconds then sit beside a wait like a real model's, which is what
//     overlapping requests and the event loop see in production.
// It keeps counters (GET /__stats) so the bench can check each scenario made the calls it should, and
// can say what the model was sent: body bytes, messages, and how many tool definitions, in how many bytes.

import http from "node:http";
import { TOOL_EXPRESSION } from "./prompts.mjs";

const usage = { prompt_tokens: 24, completion_tokens: 6, total_tokens: 30 };
const created = 1_762_513_383;
const model = "gpt-5-mini-2025-08-07";
const completion = (id, message, finish) => ({
  id,
  object: "chat.completion",
  created,
  model,
  choices: [{ index: 0, message: { role: "assistant", ...message }, logprobs: null, finish_reason: finish }],
  usage,
});

/**
 * The same answer as a stream, in the shape OpenAI sends: role, content or tool calls, finish, usage, [DONE];
 * split after the role event, which a realistic model sends before it has content.
 */
function chunks(answer) {
  const { id, choices } = answer;
  const { message, finish_reason } = choices[0];
  const chunk = (delta, finish = null, extra = {}) => ({
    id,
    object: "chat.completion.chunk",
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
    ...extra,
  });
  const events = [chunk({ role: "assistant", content: "" })];
  if (message.content) events.push(chunk({ content: message.content }));
  for (const [index, call] of (message.tool_calls ?? []).entries()) events.push(chunk({ tool_calls: [{ index, ...call }] }));
  events.push(chunk({}, finish_reason));
  events.push({ id, object: "chat.completion.chunk", created, model, choices: [], usage });
  const sse = (list) => list.map((event) => `data: ${JSON.stringify(event)}\n\n`).join("");
  const [role, ...rest] = events;
  return { sse: Buffer.from(`${sse(events)}data: [DONE]\n\n`), head: Buffer.from(sse([role])), tail: Buffer.from(`${sse(rest)}data: [DONE]\n\n`) };
}

const toolCall = {
  content: null,
  tool_calls: [{ id: "call_bench_calculate", type: "function", function: { name: "calculate", arguments: JSON.stringify({ expression: TOOL_EXPRESSION }) } }],
};
const ANSWERS = Object.fromEntries(
  Object.entries({
    text: completion("chatcmpl-bench-text", { content: "Hello." }, "stop"),
    toolCall: completion("chatcmpl-bench-tool", toolCall, "tool_calls"),
    afterTool: completion("chatcmpl-bench-final", { content: "2*(3+4) = 14." }, "stop"),
  }).map(([kind, answer]) => [kind, { json: Buffer.from(JSON.stringify(answer)), ...chunks(answer) }]),
);

const stats = {
  requests: 0,
  bytesIn: 0,
  text: 0,
  toolCall: 0,
  afterTool: 0,
  toolResultHas14: 0,
  toolsOffered: 0,
  toolDefinitions: 0,
  toolDefinitionBytes: 0,
  streamed: 0,
  messages: 0,
  realistic: 0,
  bad: 0,
};

const delayFrom = (name, fallback) => {
  const value = Number.parseFloat(process.env[name] ?? "");
  return Number.isFinite(value) && value >= 0 ? value : fallback;
};
const ANSWER_MS = delayFrom("MOCK_ANSWER_MS", 200);
const FIRST_CONTENT_MS = delayFrom("MOCK_FIRST_CONTENT_MS", 150);
/** The last part of a hold, spent in turns of the event loop rather than in a timer. */
const POLL_MS = 2;
let holding = 0;

/**
 * Calls `then` once `ms` have passed since `since` (a performance.now() time). libuv's timers count whole
 * milliseconds from a loop time cached per iteration, so a bare setTimeout lands up to a millisecond
 * early or late: noise the size of what the bench compares at c=1. A lone hold therefore takes a timer
 * to POLL_MS before its end, then setImmediate turns until due. While other holds are pending (c>1) it
 * stays with timers: polling then would keep a core busy that the gateways under test need, and their
 * hundreds of samples per run average the timers' noise out.
 */
function hold(ms, since, then) {
  holding++;
  const check = () => {
    const left = ms - (performance.now() - since);
    if (left <= 0) {
      holding--;
      then();
    } else if (left > POLL_MS) setTimeout(check, left - POLL_MS);
    else if (holding > 1) setTimeout(check, left);
    else setImmediate(check);
  };
  check();
}

function contentText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((part) => (typeof part?.text === "string" ? part.text : "")).join("");
  return "";
}

function choose(body) {
  const messages = Array.isArray(body?.messages) ? body.messages : [];
  stats.messages += messages.length;
  const last = messages.at(-1);
  if (Array.isArray(body?.tools) && body.tools.length > 0) {
    stats.toolsOffered++;
    stats.toolDefinitions += body.tools.length;
    // Compact JSON: what the definitions cost at the least, whatever whitespace the sender used.
    stats.toolDefinitionBytes += Buffer.byteLength(JSON.stringify(body.tools));
  }
  if (last?.role === "tool") {
    if (contentText(last.content).includes("14")) stats.toolResultHas14++;
    return "afterTool";
  }
  if (last?.role === "user" && contentText(last.content).includes("calculator")) return "toolCall";
  return "text";
}

const server = http.createServer((request, response) => {
  if (request.method === "GET" && request.url === "/__stats") {
    response.writeHead(200, { "Content-Type": "application/json" });
    response.end(JSON.stringify(stats));
    return;
  }
  if (request.method === "POST" && request.url === "/__stats/reset") {
    for (const key of Object.keys(stats)) stats[key] = 0;
    response.writeHead(204);
    response.end();
    return;
  }
  const realistic = request.url.startsWith("/realistic/");
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    const arrived = performance.now();
    stats.requests++;
    if (realistic) stats.realistic++;
    const body = Buffer.concat(chunks);
    stats.bytesIn += body.length;
    let kind;
    let stream = false;
    try {
      const parsed = JSON.parse(body.toString("utf8"));
      kind = choose(parsed);
      stream = parsed?.stream === true;
    } catch {
      stats.bad++;
      response.writeHead(400, { "Content-Type": "application/json" });
      response.end('{"error":{"message":"bad json","type":"invalid_request_error","param":null,"code":null}}');
      return;
    }
    stats[kind]++;
    const answer = ANSWERS[kind];
    if (stream) {
      stats.streamed++;
      if (!realistic) {
        response.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Content-Length": answer.sse.length });
        response.end(answer.sse);
        return;
      }
      response.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
      response.write(answer.head);
      hold(FIRST_CONTENT_MS, arrived, () => {
        // A client gone while the model "thought" (the end of a load run) gets nothing more.
        if (!response.destroyed) response.end(answer.tail);
      });
      return;
    }
    const send = () => {
      if (response.destroyed) return;
      response.writeHead(200, { "Content-Type": "application/json", "Content-Length": answer.json.length });
      response.end(answer.json);
    };
    if (realistic) hold(ANSWER_MS, arrived, send);
    else send();
  });
});

// Keep connections from workerd's pool alive well past a run's pauses, so an idle socket is never
// closed under a request being written to it.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.requestTimeout = 0;
server.maxRequestsPerSocket = 0;

const port = Number.parseInt(process.env.MOCK_PORT ?? "0", 10);
server.listen(port, "127.0.0.1", 1024, () => {
  const address = server.address();
  if (process.send) process.send({ port: address.port });
  else console.log(`mock upstream on http://127.0.0.1:${address.port}/v1`);
});

process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
