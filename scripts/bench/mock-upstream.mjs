// The zero-latency model for `npm run bench`: a Node http server on 127.0.0.1 speaking OpenAI chat
// completions, run in its own process so the load generator never shares its event loop.
//
// Every answer is precomputed. The only per-request work is reading the body and parsing it to find
// the last message:
//   - last message is a tool result          -> the final text answer (after one tool round trip);
//   - last user message asks for the calculator -> one `calculate` tool call;
//   - anything else                          -> a text answer.
// It keeps counters (GET /__stats) so the bench can check each scenario made the calls it should.

import http from "node:http";
import { TOOL_EXPRESSION } from "./prompts.mjs";

const usage = { prompt_tokens: 24, completion_tokens: 6, total_tokens: 30 };
const completion = (id, message, finish) =>
  JSON.stringify({
    id,
    object: "chat.completion",
    created: 1_762_513_383,
    model: "gpt-5-mini-2025-08-07",
    choices: [{ index: 0, message: { role: "assistant", ...message }, logprobs: null, finish_reason: finish }],
    usage,
  });

const ANSWERS = {
  text: Buffer.from(completion("chatcmpl-bench-text", { content: "Hello." }, "stop")),
  toolCall: Buffer.from(
    completion(
      "chatcmpl-bench-tool",
      {
        content: null,
        tool_calls: [
          { id: "call_bench_calculate", type: "function", function: { name: "calculate", arguments: JSON.stringify({ expression: TOOL_EXPRESSION }) } },
        ],
      },
      "tool_calls",
    ),
  ),
  afterTool: Buffer.from(completion("chatcmpl-bench-final", { content: "2*(3+4) = 14." }, "stop")),
};

const stats = { requests: 0, bytesIn: 0, text: 0, toolCall: 0, afterTool: 0, toolResultHas14: 0, toolsOffered: 0, bad: 0 };

function contentText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((part) => (typeof part?.text === "string" ? part.text : "")).join("");
  return "";
}

function choose(body) {
  const messages = Array.isArray(body?.messages) ? body.messages : [];
  const last = messages.at(-1);
  if (Array.isArray(body?.tools) && body.tools.length > 0) stats.toolsOffered++;
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
    try {
      kind = choose(JSON.parse(body.toString("utf8")));
    } catch {
      stats.bad++;
      response.writeHead(400, { "Content-Type": "application/json" });
      response.end('{"error":{"message":"bad json","type":"invalid_request_error","param":null,"code":null}}');
      return;
    }
    stats[kind]++;
    const answer = ANSWERS[kind];
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
