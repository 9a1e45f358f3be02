// Background create beside first content: how long `POST /v1/responses` with `background: true` takes
// to answer (its queued response; the run goes on in the conversation's home), against how long a
// streamed, non-background turn to the same orchestrator takes to show its first content. Concurrency
// 1, the two kinds interleaved request by request (which goes first alternates), in rounds whose order
// of orchestrators rotates. Every background run is followed (GET /v1/responses/{id}) until it ended
// before the next request, so no run of ours is under way while one is timed.

import http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { median, percentile } from "./load.mjs";
import { TEXT_PROMPT } from "./prompts.mjs";
import { MODEL, ORCHESTRATOR, REALISTIC_ORCHESTRATOR, requestBody, requestHeaders } from "./setup.mjs";
import { runStream } from "./stream.mjs";
import { spread } from "./targets.mjs";

/** A short pause after every request (and every followed run): think time, and room for the work it left. */
const GAP_MS = 5;
const POLL_MS = 3;
const RUN_TIMEOUT_MS = 30_000;
const WARMUP_PAIRS = 3;
const RUNNING = new Set(["queued", "in_progress"]);

export const BACKGROUND_METHOD =
  `c=1, one orchestrator at a time: POST /v1/responses {"background": true} timed to the end of its JSON answer (node:http, keep-alive), ` +
  "interleaved with the streamed chat turn of the streaming section (time to the first SSE delta with content), the order alternating per pair; " +
  `each background run followed with GET /v1/responses/{id} until it ended, then ${GAP_MS} ms before the next request. ` +
  "Median of per-round medians, p90 pooled over the rounds; ratio computed within each round, median over rounds [range]";

const backgroundBody = JSON.stringify({ model: MODEL, input: TEXT_PROMPT, background: true });
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** The orchestrators measured: the zero-latency one and its realistic-model copy; keys match the streaming section's. */
export function backgroundTargets({ urls }) {
  const target = (key, label, name, realistic) => ({
    key,
    label,
    realistic,
    baseUrl: urls[name],
    responsesUrl: new URL("/v1/responses", urls[name]).href,
    streamUrl: new URL("/v1/chat/completions", urls[name]).href,
  });
  return [
    target("switchboard", "4. Switchboard (zero-latency model)", ORCHESTRATOR, false),
    ...(urls[REALISTIC_ORCHESTRATOR] ? [target("switchboard-realistic", "r4. Switchboard, realistic model", REALISTIC_ORCHESTRATOR, true)] : []),
  ];
}

/** One POST timed to the end of its answer: { ms, status, text }. */
function postTimed(url, body, headers) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const request = http.request(url, { method: "POST", agent, headers: { ...headers, "content-length": Buffer.byteLength(body) } }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => {
        text += chunk;
      });
      response.on("end", () => resolve({ ms: performance.now() - started, status: response.statusCode, text }));
      response.on("error", reject);
    });
    request.on("error", reject);
    request.end(body);
  });
}

/** The queued answer's response object; throws unless it is a 200 with a running status and `background: true`. */
function queuedResponse(target, { status, text }) {
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  if (status !== 200 || !RUNNING.has(json?.status) || json?.background !== true || typeof json?.id !== "string") {
    throw new Error(
      `Background create to "${target.label}" (${target.responsesUrl}) answered ${status} ${text.slice(0, 300)}: ` +
        `expected 200 with a response object whose status is "queued" or "in_progress" and background: true`,
    );
  }
  return json;
}

/** Polls GET /v1/responses/{id} until the run left queued/in_progress; its final response object. */
async function waitForEnd(target, id) {
  const url = new URL(`/v1/responses/${id}`, target.baseUrl);
  const until = performance.now() + RUN_TIMEOUT_MS;
  for (;;) {
    const response = await fetch(url, { headers: requestHeaders });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`GET ${url.pathname} on "${target.label}" answered ${response.status}: ${text.slice(0, 300)}`);
    const json = JSON.parse(text);
    if (!RUNNING.has(json.status)) return json;
    if (performance.now() > until) throw new Error(`Background run ${id} on "${target.label}" still ${json.status} after ${RUN_TIMEOUT_MS} ms`);
    await sleep(POLL_MS);
  }
}

/** One background create, timed; its run followed to its end (not timed). */
async function backgroundOnce(target) {
  const answer = await postTimed(target.responsesUrl, backgroundBody, requestHeaders);
  const queued = queuedResponse(target, answer);
  const ended = await waitForEnd(target, queued.id);
  return { ms: answer.ms, ended };
}

/** One streamed chat turn, as the streaming section sends it: time to first content, or null on an error. */
async function firstContentOnce(target) {
  const result = await runStream({ url: target.streamUrl, body: requestBody(TEXT_PROMPT, { stream: true }), headers: requestHeaders, count: 1, seconds: 60 });
  return result.errors > 0 ? null : result.firstContent[0];
}

/** Before anything is timed: a background run answers queued and ends completed, and a streamed turn gives content. */
export async function checkBackground(targets) {
  for (const target of targets) {
    const { ended } = await backgroundOnce(target);
    if (ended.status !== "completed")
      throw new Error(
        `Background run on "${target.label}" ended ${ended.status}, not completed: ${JSON.stringify(ended.error ?? ended.incomplete_details ?? null)}`,
      );
    if ((await firstContentOnce(target)) === null) throw new Error(`Streaming to "${target.label}" does not give content and [DONE]`);
  }
}

/** `pairs` interleaved pairs against one orchestrator (its local KV emptied first): background create ms and first-content ms. */
async function measurePairs(target, pairs, kvAdminUrl) {
  await fetch(new URL("/purge", kvAdminUrl), { method: "POST" });
  const created = [];
  const firstContent = [];
  let errors = 0;
  let notCompleted = 0;
  for (let pair = 0; pair < pairs; pair++) {
    const kinds = pair % 2 === 0 ? ["background", "stream"] : ["stream", "background"];
    for (const kind of kinds) {
      if (kind === "background") {
        const { ms, ended } = await backgroundOnce(target);
        created.push(ms);
        if (ended.status !== "completed") notCompleted++;
      } else {
        const ms = await firstContentOnce(target);
        if (ms === null) errors++;
        else firstContent.push(ms);
      }
      await sleep(GAP_MS);
    }
  }
  return { created, firstContent, errors, notCompleted };
}

function pooled(rounds, field) {
  return Float64Array.from(rounds.flatMap((round) => round[field])).sort();
}

function summarise(target, rounds, streaming) {
  const overRounds = (field) => median(rounds.map((round) => round[field]));
  const reference = streaming?.find((row) => row.key === target.key)?.firstContentMs ?? null;
  return {
    key: target.key,
    label: target.label,
    realistic: target.realistic,
    backgroundCreate: {
      medianMs: overRounds("createdMedianMs"),
      p90Ms: percentile(pooled(rounds, "created"), 90),
      samples: pooled(rounds, "created").length,
      // Runs that ended other than completed (their create was still timed).
      runsNotCompleted: rounds.reduce((sum, round) => sum + round.notCompleted, 0),
    },
    firstContent: {
      medianMs: overRounds("firstContentMedianMs"),
      p90Ms: percentile(pooled(rounds, "firstContent"), 90),
      samples: pooled(rounds, "firstContent").length,
      errors: rounds.reduce((sum, round) => sum + round.errors, 0),
    },
    // Background create ÷ first content, per round from that round's medians, summarised over the rounds.
    ratio: spread(rounds.map((round) => round.createdMedianMs / round.firstContentMedianMs)),
    streamingSectionFirstContentMs: reference,
    rounds: rounds.map(({ round, createdMedianMs, firstContentMedianMs, errors, notCompleted }) => ({
      round,
      createdMedianMs,
      firstContentMedianMs,
      errors,
      notCompleted,
    })),
  };
}

/**
 * Warm-up pairs per orchestrator, then `rounds` rounds of `pairs` pairs each, the orchestrators' order
 * rotating; both orchestrators' local KV (one namespace, `kvAdminUrl` empties it) is emptied before each
 * block, as the streaming section does. `streaming` is the streaming section's rows, whose first content
 * is kept beside ours for reference.
 */
export async function measureBackground(targets, { rounds, pairs, kvAdminUrl, streaming }) {
  for (const target of targets) await measurePairs(target, WARMUP_PAIRS, kvAdminUrl);
  const perTarget = new Map(targets.map((target) => [target.key, []]));
  for (let round = 1; round <= rounds; round++) {
    for (let index = 0; index < targets.length; index++) {
      const target = targets[(index + round - 1) % targets.length];
      const block = await measurePairs(target, pairs, kvAdminUrl);
      perTarget.get(target.key).push({ round, ...block, createdMedianMs: median(block.created), firstContentMedianMs: median(block.firstContent) });
    }
  }
  return {
    method: BACKGROUND_METHOD,
    pairsPerRound: pairs,
    gapMs: GAP_MS,
    rows: targets.map((target) => summarise(target, perTarget.get(target.key), streaming)),
  };
}
