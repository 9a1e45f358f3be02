// What the latency and streaming sections run, and the check that each scenario does what it says
// before anything is timed. Method and reasons: bench/README.md.
//
// A scenario: { key, short, label, url, body, headers, expect, ... } and optionally
//   localKv            the run writes the orchestrator's local KV, emptied before it (scripts/bench.mjs)
//   diagnostic         drawn dashed, not a headline figure
//   realistic          calls the mock's realistic model; "added" is over `baseline` (the realistic mock)
//   concurrency        the concurrencies it runs at (default: all of BENCH_CONCURRENCY)
//   seconds            a run's length (default: BENCH_SECONDS)
//   conversationTurns  warm-conversation load: turns per conversation, one conversation per connection

import { BENCH_WORKERS } from "./build.mjs";
import { conversationIdOf, turnBody } from "./conversation.mjs";
import { portkeyHeaders } from "./portkey.mjs";
import { TEXT_PROMPT, TOOL_PROMPT } from "./prompts.mjs";
import { mockStats, ORCHESTRATOR, REALISTIC_ORCHESTRATOR, requestBody, requestHeaders } from "./setup.mjs";
import { runStream } from "./stream.mjs";

export async function post(url, body, headers) {
  const response = await fetch(url, { method: "POST", headers, body });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, headers: response.headers, text, json };
}

export const statsDelta = (after, before) => Object.fromEntries(Object.keys(after).map((key) => [key, after[key] - (before[key] ?? 0)]));
const answerOf = (json) => json?.choices?.[0]?.message?.content;

/** What the mock must see: one text answer, or a tool call and the answer after it; none of it realistic unless said. */
const text = { answer: "Hello.", upstream: { requests: 1, text: 1, realistic: 0 } };
const tool = { answer: "2*(3+4) = 14.", upstream: { requests: 2, toolCall: 1, afterTool: 1, toolResultHas14: 1, realistic: 0 } };
const offers = (count) => ({ toolsOffered: text.upstream.requests, toolDefinitions: count });
const realisticText = { ...text, upstream: { ...text.upstream, realistic: 1 } };

/**
 * Every latency scenario, zero-latency first (1–8, d, 9, 10), then the realistic model's (r1, r3, r4, r9,
 * numbered after their zero-latency twins).
 * @param {{ mock: { baseUrl: string, realisticBaseUrl: string }, urls: Record<string, string>, portkey: { url: string, version: string }, settings: object, managedKey: string }} where
 */
export function latencyScenarios({ mock, urls, portkey, settings, managedKey }) {
  const chat = (name) => new URL("/v1/chat/completions", urls[name]).href;
  const oneTool = { server_tools: ["calculate"] };
  const realistic = {
    realistic: true,
    baseline: "mock-realistic",
    concurrency: settings.realisticConcurrency,
    seconds: settings.realisticSeconds,
  };
  const model = `${settings.modelAnswerMs} ms model`;
  return [
    { key: "mock", short: "1", label: "1. mock model (floor)", url: `${mock.baseUrl}/chat/completions`, body: requestBody(TEXT_PROMPT), expect: text },
    {
      key: "passthrough",
      short: "2",
      label: "2. pass-through Worker",
      url: urls[BENCH_WORKERS.passthrough.name],
      body: requestBody(TEXT_PROMPT),
      expect: text,
    },
    {
      key: "portkey",
      short: "3",
      label: `3. Portkey gateway ${portkey.version} (Node)`,
      url: portkey.url,
      headers: portkeyHeaders(mock.baseUrl),
      body: requestBody(TEXT_PROMPT),
      expect: text,
    },
    {
      key: "switchboard",
      short: "4",
      label: "4. Switchboard, no tool",
      url: chat(ORCHESTRATOR),
      body: requestBody(TEXT_PROMPT),
      expect: { ...text, upstream: { ...text.upstream, ...offers(4) } },
      localKv: true,
    },
    {
      key: "switchboard-tool",
      short: "5",
      label: "5. Switchboard, one tool round trip",
      url: chat(ORCHESTRATOR),
      body: requestBody(TOOL_PROMPT),
      expect: tool,
      localKv: true,
    },
    {
      key: "pair-no-tool",
      short: "6",
      label: "6. Switchboard, no tool · mem KV, 1 tool offered",
      url: chat(BENCH_WORKERS.memoryKv.name),
      body: requestBody(TEXT_PROMPT, oneTool),
      expect: { ...text, upstream: { ...text.upstream, ...offers(1) } },
    },
    {
      key: "pair-tool",
      short: "7",
      label: "7. Switchboard, one tool · mem KV, 1 tool offered",
      url: chat(BENCH_WORKERS.memoryKv.name),
      body: requestBody(TOOL_PROMPT, oneTool),
      expect: { ...tool, upstream: { ...tool.upstream, toolDefinitions: 2 } },
    },
    {
      key: "ai-sdk",
      short: "8",
      label: "8. AI SDK peer, one tool · mem KV, 1 tool offered",
      url: urls[BENCH_WORKERS.peer.name],
      body: requestBody(TOOL_PROMPT),
      expect: { ...tool, upstream: { ...tool.upstream, toolDefinitions: 2 } },
    },
    {
      key: "memory-kv",
      short: "d",
      label: "d. Switchboard, no tool · mem KV, 4 tools offered",
      url: chat(BENCH_WORKERS.memoryKv.name),
      body: requestBody(TEXT_PROMPT),
      expect: { ...text, upstream: { ...text.upstream, ...offers(4) } },
      diagnostic: true,
    },
    {
      key: "switchboard-stateless",
      short: "9",
      label: "9. Switchboard, no tool · store: false",
      url: chat(ORCHESTRATOR),
      body: requestBody(TEXT_PROMPT, { store: false }),
      expect: { ...text, upstream: { ...text.upstream, ...offers(4) } },
      // Stores nothing, but runs beside those that do: the same emptied namespace for every run.
      localKv: true,
    },
    {
      key: "switchboard-managed",
      short: "k",
      label: "k. Switchboard, no tool · store: false · managed key with limits",
      url: chat(ORCHESTRATOR),
      headers: { "content-type": "application/json", authorization: `Bearer ${managedKey}` },
      body: requestBody(TEXT_PROMPT, { store: false }),
      expect: { ...text, upstream: { ...text.upstream, ...offers(4) } },
      // Beside 9: what a managed key's metering adds (its object asked on the way in, before and after the model call).
      diagnostic: true,
      localKv: true,
    },
    {
      key: "switchboard-warm",
      short: "10",
      label: `10. Switchboard, no tool · warm conversation (≤${settings.conversationTurns} turns)`,
      url: chat(ORCHESTRATOR),
      // What the report shows; the load builds each turn's body with its connection's conversation.
      body: turnBody(TEXT_PROMPT, "<one per connection>"),
      expect: { ...text, upstream: { ...text.upstream, ...offers(4) } },
      conversationTurns: settings.conversationTurns,
      localKv: true,
    },
    {
      ...realistic,
      key: "mock-realistic",
      baseline: undefined,
      short: "r1",
      label: `r1. mock model (floor) · ${model}`,
      url: `${mock.realisticBaseUrl}/chat/completions`,
      body: requestBody(TEXT_PROMPT),
      expect: realisticText,
    },
    {
      ...realistic,
      key: "portkey-realistic",
      short: "r3",
      label: `r3. Portkey gateway ${portkey.version} (Node) · ${model}`,
      url: portkey.url,
      headers: portkeyHeaders(mock.realisticBaseUrl),
      body: requestBody(TEXT_PROMPT),
      expect: realisticText,
    },
    {
      ...realistic,
      key: "switchboard-realistic",
      short: "r4",
      label: `r4. Switchboard, no tool · ${model}`,
      url: chat(REALISTIC_ORCHESTRATOR),
      body: requestBody(TEXT_PROMPT),
      expect: { ...realisticText, upstream: { ...realisticText.upstream, ...offers(4) } },
      localKv: true,
    },
    {
      ...realistic,
      key: "switchboard-stateless-realistic",
      short: "r9",
      label: `r9. Switchboard, no tool · store: false · ${model}`,
      url: chat(REALISTIC_ORCHESTRATOR),
      body: requestBody(TEXT_PROMPT, { store: false }),
      expect: { ...realisticText, upstream: { ...realisticText.upstream, ...offers(4) } },
      localKv: true,
    },
  ].map((scenario) => ({
    headers: requestHeaders,
    localKv: false,
    diagnostic: false,
    realistic: false,
    baseline: scenario.key === "mock" || scenario.key === "mock-realistic" ? undefined : "mock",
    concurrency: settings.concurrency,
    seconds: settings.seconds,
    ...scenario,
  }));
}

/** The streamed targets: first content at c=1, zero-latency and (r1, r4) with the realistic model's first content. */
export function streamTargets({ mock, urls, settings }) {
  const chat = (name) => new URL("/v1/chat/completions", urls[name]).href;
  // A realistic stream waits for its first content on every request: a few warm it up.
  const realistic = { realistic: true, warmupCount: 3 };
  return [
    { key: "mock", short: "1", label: "1. mock model (floor)", url: `${mock.baseUrl}/chat/completions` },
    { key: "passthrough", short: "2", label: "2. pass-through Worker", url: urls[BENCH_WORKERS.passthrough.name] },
    { key: "switchboard", short: "4", label: "4. Switchboard, no tool", url: chat(ORCHESTRATOR), localKv: true },
    { key: "memory-kv", short: "d", label: "d. Switchboard, no tool, mem KV", url: chat(BENCH_WORKERS.memoryKv.name), diagnostic: true },
    { ...realistic, key: "mock-realistic", short: "r1", label: "r1. mock model, realistic", url: `${mock.realisticBaseUrl}/chat/completions` },
    { ...realistic, key: "switchboard-realistic", short: "r4", label: "r4. Switchboard, realistic", url: chat(REALISTIC_ORCHESTRATOR), localKv: true },
  ].map((target) => ({
    localKv: false,
    diagnostic: false,
    realistic: false,
    warmupCount: 10,
    seconds: Math.max(1, settings.seconds),
    ...target,
    body: requestBody(TEXT_PROMPT, { stream: true }),
    headers: requestHeaders,
  }));
}

/** Whether a response did what its scenario expects, and the model calls the mock saw were the expected ones. */
function problemsOf(scenario, response, delta) {
  const problems = [];
  if (response.status !== 200) problems.push(`status ${response.status}: ${response.text.slice(0, 300)}`);
  if (answerOf(response.json) !== scenario.expect.answer)
    problems.push(`answer ${JSON.stringify(answerOf(response.json))}, expected ${JSON.stringify(scenario.expect.answer)}`);
  for (const [key, value] of Object.entries(scenario.expect.upstream)) {
    if (delta[key] !== value) problems.push(`mock saw ${key}=${delta[key]}, expected ${value}`);
  }
  return problems;
}

/**
 * A warm-conversation scenario's check: a conversation is created, and a turn naming it answers, stays in
 * it, and sends the model the history (the first exchange and the new message) though the client sent one message.
 */
async function checkConversation(scenario, mockPort) {
  const created = await post(scenario.url, requestBody(TEXT_PROMPT), scenario.headers);
  const id = conversationIdOf(Object.fromEntries(created.headers), created.text);
  if (created.status !== 200 || !id) return [`creating a conversation: status ${created.status}, id ${id}: ${created.text.slice(0, 300)}`];
  const before = await mockStats(mockPort);
  const response = await post(scenario.url, turnBody(TEXT_PROMPT, id), scenario.headers);
  const delta = statsDelta(await mockStats(mockPort), before);
  const problems = problemsOf(scenario, response, delta);
  const answeredIn = conversationIdOf(Object.fromEntries(response.headers), response.text);
  if (answeredIn !== id) problems.push(`the turn answered in conversation ${answeredIn}, not ${id}`);
  if (!(delta.messages >= 3)) problems.push(`the model was sent ${delta.messages} message(s): the stored history is missing`);
  return problems;
}

/** One request per scenario before anything is timed; throws with what a scenario got wrong. */
export async function checkScenarios(scenarios, mockPort) {
  for (const scenario of scenarios) {
    let problems;
    if (scenario.conversationTurns) {
      problems = await checkConversation(scenario, mockPort);
    } else {
      const before = await mockStats(mockPort);
      const response = await post(scenario.url, scenario.body, scenario.headers);
      problems = problemsOf(scenario, response, statsDelta(await mockStats(mockPort), before));
    }
    if (problems.length > 0) throw new Error(`Scenario "${scenario.label}" does not do what it should:\n  ${problems.join("\n  ")}`);
  }
}

/** One streamed request per target: content and [DONE] arrive. */
export async function checkStreams(streams) {
  for (const target of streams) {
    const check = await runStream({ ...target, count: 1, seconds: 5 });
    if (check.errors > 0) throw new Error(`Streaming to "${target.label}" does not give content and [DONE]`);
  }
}
