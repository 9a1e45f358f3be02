// The zero-latency model for `npm run bench`: a Node http server on 127.0.0.1 speaking OpenAI chat
// completions, run in its own process so the load generator never shares its event loop.
//
// Every answer is precomputed, as a JSON completion and as an SSE stream (`stream: true`). The only
// per-request work is reading the body and parsing it to find the last message:
//   - last message is a tool result          -> the final text answer (after one tool round trip);
//   - last user message asks for the calculator -> one `calculate` tool call;
//   - anything else                          -> a text answer.
// It keeps counters (GET /__stats) so the bench can check each scenario made the calls it should, and
// can say what the model was sent: body bytes, and how many tool definitions, in how many bytes.

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

/** The same answer as a stream, in the shape OpenAI sends: role, content or tool calls, finish, usage, [DONE]. */
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
  return Buffer.from(`${events.map((event) => `data: ${JSON.stringify(event)}\n\n`).join("")}data: [DONE]\n\n`);
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
  }).map(([kind, answer]) => [kind, { json: Buffer.from(JSON.stringify(answer)), sse: chunks(answer) }]),
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
  bad: 0,
};

function contentText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((part) => (typeof part?.text === "string" ? part.text : "")).join("");
  return "";
}

function choose(body) {
  const messages = Array.isArray(body?.messages) ? body.messages : [];
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
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    stats.requests++;
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
    if (stream) {
      stats.streamed++;
      const answer = ANSWERS[kind].sse;
      response.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Content-Length": answer.length });
      response.end(answer);
      return;
    }
    const answer = ANSWERS[kind].json;
    response.writeHead(200, { "Content-Type": "application/json", "Content-Length": answer.length });
    response.end(answer);
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
